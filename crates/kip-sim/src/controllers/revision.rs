//! Template hashes: the `controller-revision-hash` of DaemonSet revisions and the
//! `pod-template-hash` of Deployment ReplicaSets.
//!
//! Kubernetes hashes a template with 32-bit FNV-1a over a dump of the Go struct (plus the
//! collision count, little-endian) and spells the decimal result in a vowel-free alphabet. Go's
//! struct dump cannot be reproduced outside Go, so this hashes the template's canonical JSON
//! (keys sorted, no whitespace) instead: same algorithm, same alphabet and same shape of value,
//! stable across runs, but not the value a real cluster computes for the same template.

use std::io::Write;

use serde_json::Value;

/// The alphabet Kubernetes uses for generated name parts (no vowels, no confusable digits).
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// 32-bit FNV-1a.
#[derive(Clone, Copy, Debug)]
struct Fnv32a(u32);

impl Fnv32a {
    fn new() -> Self {
        Fnv32a(0x811c_9dc5)
    }
}

impl Write for Fnv32a {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        for b in bytes {
            self.0 ^= u32::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The hash of a pod template, as a short safe string (e.g. `5d4f8b7c9`).
pub fn template_hash(template: &Value, collision_count: Option<i64>) -> String {
    let mut hasher = Fnv32a::new();
    // Writing into the hasher cannot fail.
    let _ = write_canonical(template, &mut hasher);
    if let Some(count) = collision_count {
        let _ = hasher.write(&(count as u32).to_le_bytes());
    }
    safe_encode(&hasher.0.to_string())
}

/// Maps each byte onto the safe alphabet, as Kubernetes' `SafeEncodeString` does.
pub fn safe_encode(s: &str) -> String {
    s.bytes().map(|b| SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()] as char).collect()
}

/// JSON with object keys sorted, whatever order the map keeps them in.
fn write_canonical(value: &Value, out: &mut impl Write) -> std::io::Result<()> {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.write_all(b"{")?;
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, key)?;
                out.write_all(b":")?;
                write_canonical(&map[key], out)?;
            }
            out.write_all(b"}")
        }
        Value::Array(items) => {
            out.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_canonical(item, out)?;
            }
            out.write_all(b"]")
        }
        scalar => serde_json::to_writer(out, scalar).map_err(std::io::Error::other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fnv(bytes: &[u8]) -> u32 {
        let mut h = Fnv32a::new();
        h.write_all(bytes).expect("hashing");
        h.0
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv(b""), 0x811c_9dc5);
        assert_eq!(fnv(b"a"), 0xe40c_292c);
        assert_eq!(fnv(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn safe_encoding_uses_only_the_safe_alphabet() {
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
        let hash = template_hash(&json!({"spec": {}}), None);
        assert!(hash.chars().all(|c| SAFE_ALPHABET.contains(&(c as u8))), "{hash}");
        assert!((1..=10).contains(&hash.len()), "{hash}");
    }

    #[test]
    fn hashes_are_stable_and_follow_content() {
        let a = json!({"metadata": {"labels": {"app": "x", "tier": "1"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}});
        let mut reordered = serde_json::Map::new();
        reordered.insert("spec".into(), a["spec"].clone());
        reordered.insert("metadata".into(), a["metadata"].clone());
        assert_eq!(template_hash(&a, None), template_hash(&Value::Object(reordered), None));
        let mut b = a.clone();
        b["spec"]["containers"][0]["image"] = json!("i:2");
        assert_ne!(template_hash(&a, None), template_hash(&b, None));
        assert_ne!(template_hash(&a, None), template_hash(&a, Some(1)), "collisions change the hash");
        assert_ne!(template_hash(&a, Some(1)), template_hash(&a, Some(2)));
        assert_eq!(template_hash(&a, None), template_hash(&a.clone(), None));
    }
}
