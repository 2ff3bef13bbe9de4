//! C2SP signed notes with Ed25519, and C2SP checkpoints (the note body a log signs).
//!
//! Key material comes in from the caller (the server generates or loads it; the verifier gets a
//! verifier key string), so nothing here does I/O.

use crate::Hash;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const ED25519: u8 = 0x01;
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a note, key or checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key name is empty or holds a space or `+`.
    #[error("invalid key name")]
    KeyName,
    /// A verifier key string is malformed or not Ed25519.
    #[error("invalid verifier key: {0}")]
    VerifierKey(&'static str),
    /// The note text is not acceptable (control characters, missing final newline, …).
    #[error("invalid note text: {0}")]
    Text(&'static str),
    /// The note's structure or a signature line is malformed.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A known key's signature does not verify.
    #[error("bad signature by {0}")]
    BadSignature(String),
    /// No signature by a known key.
    #[error("no signature by a known key")]
    Unverified,
    /// The checkpoint body is malformed.
    #[error("invalid checkpoint: {0}")]
    Checkpoint(&'static str),
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c == '+' || c.is_whitespace() || c.is_control())
    {
        Err(NoteError::KeyName)
    } else {
        Ok(())
    }
}

/// `SHA-256(name || 0x0A || 0x01 || public_key)[..4]`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519]);
    h.update(public_key);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// Signs notes under one name with one Ed25519 key.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    id: [u8; 4],
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer for `name` from a 32-byte Ed25519 seed.
    pub fn new(name: &str, seed: &[u8; 32]) -> Result<NoteSigner, NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(NoteSigner {
            name: name.to_owned(),
            key,
            id,
        })
    }

    /// The verifier key string: `<name>+<key id hex>+<base64(0x01 || public key)>`.
    pub fn verifier_key(&self) -> String {
        verifier_key(&self.name, self.key.verifying_key().as_bytes())
            .expect("the name was checked when the signer was made")
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        *self.key.verifying_key().as_bytes()
    }

    /// The signed note: `text`, an empty line, and this key's signature line.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        sign_with(text, std::slice::from_ref(self))
    }

    fn signature_line(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut blob = self.id.to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{SIG_PREFIX}{} {}\n", self.name, STANDARD.encode(blob))
    }
}

/// The note `text` signed by every one of `signers` (several during a key rotation), in order.
pub fn sign_with(text: &str, signers: &[NoteSigner]) -> Result<String, NoteError> {
    check_text(text)?;
    let mut out = format!("{text}\n");
    for s in signers {
        out.push_str(&s.signature_line(text));
    }
    Ok(out)
}

/// The verifier key string of the Ed25519 `public_key` under `name`, without the private key:
/// `<name>+<key id hex>+<base64(0x01 || public key)>`.
pub fn verifier_key(name: &str, public_key: &[u8; 32]) -> Result<String, NoteError> {
    check_name(name)?;
    let mut k = vec![ED25519];
    k.extend_from_slice(public_key);
    Ok(format!(
        "{}+{}+{}",
        name,
        hex::encode(key_id(name, public_key)),
        STANDARD.encode(k)
    ))
}

/// Verifies notes signed by one named Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses a verifier key string, checking that its key id matches name and key.
    pub fn parse(vkey: &str) -> Result<NoteVerifier, NoteError> {
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::VerifierKey("expected name+id+key"));
        };
        check_name(name)?;
        let raw = STANDARD
            .decode(key_b64)
            .map_err(|_| NoteError::VerifierKey("key is not base64"))?;
        let (Some(&ED25519), Ok(pk)) =
            (raw.first(), <[u8; 32]>::try_from(&raw[1.min(raw.len())..]))
        else {
            return Err(NoteError::VerifierKey("not an Ed25519 key"));
        };
        let id = key_id(name, &pk);
        if id_hex.len() != 8 || hex::encode(id) != id_hex {
            return Err(NoteError::VerifierKey("key id does not match name and key"));
        }
        let key = VerifyingKey::from_bytes(&pk)
            .map_err(|_| NoteError::VerifierKey("not a valid Ed25519 point"))?;
        Ok(NoteVerifier {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Text("must end with a newline"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Text("control characters other than newline"));
    }
    Ok(())
}

/// Opens a signed note: returns its text if at least one known key signed it and no known key's
/// signature fails. Signatures by unknown keys are ignored.
pub fn open<'a>(note: &'a str, verifiers: &[NoteVerifier]) -> Result<&'a str, NoteError> {
    let split = note
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before signatures"))?;
    let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
    check_text(text)?;
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(NoteError::Malformed(
            "signature lines must end with a newline",
        ));
    }
    let mut verified = false;
    for line in sigs[..sigs.len() - 1].split('\n') {
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::Malformed(
            "signature line must start with an em dash",
        ))?;
        let (name, b64) = rest.split_once(' ').ok_or(NoteError::Malformed(
            "signature line needs a name and a signature",
        ))?;
        check_name(name).map_err(|_| NoteError::Malformed("bad key name in a signature line"))?;
        let blob = STANDARD
            .decode(b64)
            .map_err(|_| NoteError::Malformed("signature is not base64"))?;
        if blob.len() < 4 {
            return Err(NoteError::Malformed("signature too short"));
        }
        let Some(v) = verifiers
            .iter()
            .find(|v| v.name == name && v.id == blob[..4])
        else {
            continue;
        };
        let sig = <[u8; 64]>::try_from(&blob[4..])
            .map_err(|_| NoteError::BadSignature(name.to_owned()))?;
        v.key
            .verify_strict(text.as_bytes(), &Signature::from_bytes(&sig))
            .map_err(|_| NoteError::BadSignature(name.to_owned()))?;
        verified = true;
    }
    if verified {
        Ok(text)
    } else {
        Err(NoteError::Unverified)
    }
}

/// A C2SP checkpoint: origin, tree size, root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, unique per log.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
}

impl Checkpoint {
    /// The note body: `<origin>\n<size>\n<base64 root>\n`.
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root.0)
        )
    }

    /// Parses a checkpoint body (extension lines after the third are allowed and ignored).
    pub fn parse(text: &str) -> Result<Checkpoint, NoteError> {
        check_text(text)?;
        let mut lines = text.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(NoteError::Checkpoint("empty origin"))?;
        let size_s = lines.next().ok_or(NoteError::Checkpoint("missing size"))?;
        if size_s.is_empty()
            || !size_s.bytes().all(|b| b.is_ascii_digit())
            || (size_s.len() > 1 && size_s.starts_with('0'))
        {
            return Err(NoteError::Checkpoint(
                "size must be decimal without leading zeros",
            ));
        }
        let size = size_s
            .parse()
            .map_err(|_| NoteError::Checkpoint("size out of range"))?;
        let root_s = lines.next().ok_or(NoteError::Checkpoint("missing root"))?;
        let root: [u8; 32] = STANDARD
            .decode(root_s)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(NoteError::Checkpoint("root must be 32 bytes, base64"))?;
        if STANDARD.encode(root) != root_s {
            return Err(NoteError::Checkpoint(
                "root must be canonical padded base64",
            ));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root: Hash(root),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c2sp_example_key_id() {
        let v = NoteVerifier::parse(
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        )
        .unwrap();
        assert_eq!(hex::encode(v.id), "530d903a");
        assert_eq!(v.name(), "example.com/foo");
        assert!(NoteVerifier::parse(
            "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
        )
        .is_err());
        assert!(NoteVerifier::parse(
            "example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
        )
        .is_err());
    }

    fn signer(name: &str, seed: u8) -> NoteSigner {
        NoteSigner::new(name, &[seed; 32]).unwrap()
    }

    /// During a rotation a note carries one signature per active key; each key alone verifies it,
    /// and a verifier key built from the public key alone equals the signer's.
    #[test]
    fn several_signers() {
        let (old, new) = (signer("log.example/a", 1), signer("log.example/a", 2));
        let note = sign_with("log.example/a\n1\nAAAA\n", &[old.clone(), new.clone()]).unwrap();
        assert_eq!(note.matches(SIG_PREFIX).count(), 2);
        for s in [&old, &new] {
            assert_eq!(
                verifier_key("log.example/a", &s.public_key()).unwrap(),
                s.verifier_key()
            );
            let v = NoteVerifier::parse(&s.verifier_key()).unwrap();
            assert_eq!(open(&note, &[v]).unwrap(), "log.example/a\n1\nAAAA\n");
        }
        assert!(verifier_key("bad name", &[0; 32]).is_err());
    }

    #[test]
    fn sign_open_and_refuse() {
        let s = signer("sealbook.test/acme", 1);
        let cp = Checkpoint {
            origin: "sealbook.test/acme".into(),
            size: 7,
            root: crate::leaf_hash(b"x"),
        };
        let note = s.sign(&cp.to_text()).unwrap();
        let v = NoteVerifier::parse(&s.verifier_key()).unwrap();
        let text = open(&note, std::slice::from_ref(&v)).unwrap();
        assert_eq!(Checkpoint::parse(text).unwrap(), cp);

        // A foreign key alone: unverified. Foreign plus ours: fine (unknown signatures ignored).
        let other = signer("sealbook.test/acme", 2);
        let foreign = other.sign(&cp.to_text()).unwrap();
        assert_eq!(
            open(&foreign, std::slice::from_ref(&v)),
            Err(NoteError::Unverified)
        );
        let both = format!("{}{}", note, foreign.rsplit_once("\n\n").unwrap().1);
        assert!(open(&both, std::slice::from_ref(&v)).is_ok());

        // Any change to the text or the signature is caught.
        let tampered = note.replacen("\n7\n", "\n8\n", 1);
        assert!(matches!(
            open(&tampered, std::slice::from_ref(&v)),
            Err(NoteError::BadSignature(_))
        ));
        let mut bytes = note.clone().into_bytes();
        let sig_at = note.rfind(' ').unwrap() + 10;
        bytes[sig_at] = if bytes[sig_at] == b'A' { b'B' } else { b'A' };
        assert!(open(&String::from_utf8(bytes).unwrap(), &[v]).is_err());
    }

    #[test]
    fn checkpoint_parsing_is_strict() {
        let root = STANDARD.encode([7u8; 32]);
        assert!(Checkpoint::parse(&format!("o\n12\n{root}\n")).is_ok());
        assert!(Checkpoint::parse(&format!("o\n12\n{root}\next line\n")).is_ok());
        for bad in [
            format!("o\n012\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            format!("\n1\n{root}\n"),
            format!("o\n1\n{root}"),
            "o\n1\nAAAA\n".to_string(),
            format!("o\n1\n{}\n", root.trim_end_matches('=')),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            NoteSigner::new("bad name", &[0; 32]).err(),
            Some(NoteError::KeyName)
        );
        assert_eq!(
            NoteSigner::new("a+b", &[0; 32]).err(),
            Some(NoteError::KeyName)
        );
    }
}
