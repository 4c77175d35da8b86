//! Splitting a batch over the machines of an array job: by a hash of each file's listed path.

use super::BatchInput;

/// A shard `k` of `n` (1-based): files whose listed path hashes to it, so every machine of an array
/// job picks the same split without coordination, and the shards' union is the whole.
#[must_use]
pub fn shard(inputs: Vec<BatchInput>, k: usize, n: usize) -> Vec<BatchInput> {
    if n <= 1 {
        return inputs;
    }
    inputs
        .into_iter()
        .filter(|input| {
            let hash = blake3::hash(input.listed.as_bytes());
            let mut bytes = [0_u8; 8];
            bytes.copy_from_slice(&hash.as_bytes()[..8]);
            (u64::from_le_bytes(bytes) % n as u64) as usize == k - 1
        })
        .collect()
}

/// What is wrong with a `K/N` shard text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("shard `{0}` is not of the form K/N")]
    NotKOverN(String),
    #[error("shard {part} `{text}` is not a number")]
    NotANumber { part: &'static str, text: String },
    #[error("shard {k}/{n}: need 1 <= K <= N")]
    OutOfRange { k: usize, n: usize },
}

/// Parses `K/N` (1 <= K <= N).
///
/// # Errors
/// [`ShardError`] saying what is wrong with the text.
pub fn parse_shard(text: &str) -> Result<(usize, usize), ShardError> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| ShardError::NotKOverN(text.to_owned()))?;
    let number = |part: &'static str, text: &str| {
        text.trim()
            .parse::<usize>()
            .map_err(|_| ShardError::NotANumber {
                part,
                text: text.to_owned(),
            })
    };
    let (k, n) = (number("index", k)?, number("count", n)?);
    if n == 0 || k == 0 || k > n {
        return Err(ShardError::OutOfRange { k, n });
    }
    Ok((k, n))
}
