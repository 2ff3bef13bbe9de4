-- Version 3: search postings and content hashes are keyed per tenant (HMAC-SHA256) instead of
-- XXH3 and SHA-256 (docs/security/hashing.md). SQL cannot compute the keyed hashes: a database
-- that already holds events is marked as holding the unkeyed format, and the server refuses to
-- start on it rather than miss search results or call faithful retries conflicts. A new database
-- gets no mark, and the server records the keyed format in it at its first start. Run by the
-- migration runner as the owner, with `sealbook.owner_access` on (0002), so it sees every event.
INSERT INTO settings(name, value)
SELECT 'hash_format', 'unkeyed' WHERE EXISTS (SELECT 1 FROM events);
