//! The change feed's opaque token: where a client's copy stands.
//!
//! Two kinds. While a first sync walks the live tasks (no `since` yet), the
//! token holds the walk's `floor` (the counter of its first page's
//! snapshot: tasks changed after it come later, by seq) and its position
//! in the list order (`created_at`, `id`). After the walk, it holds the
//! seq the copy is complete up to. Both carry the owner's tag (another
//! user's token is a 400), the owner row's creation time (its counter is
//! only meaningful for that row: a user deleted and made again starts at
//! 0), and when it was issued (older than the tombstones' 90 days: 410).
//!
//! No signature: a forged token can only name positions in its owner's
//! own rows (every statement is scoped by user id), and `purged_seq` and
//! the counter judge its seq exactly (`repository::changes`).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const VERSION: u8 = 1;
const WALK: u8 = 1;
const SINCE: u8 = 2;
/// version, kind, user tag (8), epoch (8), issued at (8).
const HEAD_BYTES: usize = 2 + 8 + 8 + 8;

/// Where a copy stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// A first sync, past the task at (`created_at`, `id`) in the list's
    /// order (newest first), of the tasks whose seq is at most `floor`.
    Walk {
        floor: i64,
        created_at_micros: i64,
        id: Uuid,
    },
    /// Every change up to seq `since` applied.
    Since(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// The first 8 bytes of SHA-256 of the owner's id.
    pub user_tag: u64,
    /// The owner row's `created_at` in Unix microseconds; 0 when the row
    /// did not exist yet (no write ever).
    pub epoch: i64,
    /// Unix seconds.
    pub issued_at: i64,
    pub position: Position,
}

/// Why a `since` is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not a token of ours.
    Malformed,
    /// Another user's.
    NotYours,
}

pub fn user_tag(user_id: &str) -> u64 {
    let digest = Sha256::digest(user_id.as_bytes());
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(tag)
}

impl Token {
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(HEAD_BYTES + 32);
        bytes.push(VERSION);
        bytes.push(match self.position {
            Position::Walk { .. } => WALK,
            Position::Since(_) => SINCE,
        });
        bytes.extend_from_slice(&self.user_tag.to_be_bytes());
        bytes.extend_from_slice(&self.epoch.to_be_bytes());
        bytes.extend_from_slice(&self.issued_at.to_be_bytes());
        match self.position {
            Position::Walk {
                floor,
                created_at_micros,
                id,
            } => {
                bytes.extend_from_slice(&floor.to_be_bytes());
                bytes.extend_from_slice(&created_at_micros.to_be_bytes());
                bytes.extend_from_slice(id.as_bytes());
            }
            Position::Since(since) => bytes.extend_from_slice(&since.to_be_bytes()),
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The token `raw`, if it is one of ours and `user_id`'s.
    pub fn decode(raw: &str, user_id: &str) -> Result<Self, Refused> {
        let token = Self::parse(raw).ok_or(Refused::Malformed)?;
        if token.user_tag != user_tag(user_id) {
            return Err(Refused::NotYours);
        }
        Ok(token)
    }

    fn parse(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let (&[VERSION, kind], rest) = bytes.split_first_chunk::<2>()? else {
            return None;
        };
        let (user_tag, rest) = rest.split_first_chunk::<8>()?;
        let (epoch, rest) = rest.split_first_chunk::<8>()?;
        let (issued_at, rest) = rest.split_first_chunk::<8>()?;
        let position = match kind {
            WALK => {
                let (floor, rest) = rest.split_first_chunk::<8>()?;
                let (created_at, id) = rest.split_first_chunk::<8>()?;
                let id: [u8; 16] = id.try_into().ok()?;
                Position::Walk {
                    floor: nonnegative(i64::from_be_bytes(*floor))?,
                    created_at_micros: Some(i64::from_be_bytes(*created_at))
                        .filter(|&t| crate::cursor::time_in_range(t))?,
                    id: Uuid::from_bytes(id),
                }
            }
            SINCE => {
                let since: [u8; 8] = rest.try_into().ok()?;
                Position::Since(nonnegative(i64::from_be_bytes(since))?)
            }
            _ => return None,
        };
        Some(Self {
            user_tag: u64::from_be_bytes(*user_tag),
            epoch: i64::from_be_bytes(*epoch),
            issued_at: i64::from_be_bytes(*issued_at),
            position,
        })
    }
}

/// Seqs are never negative (migration 0006's CHECKs).
fn nonnegative(n: i64) -> Option<i64> {
    (n >= 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(user: &str, position: Position) -> Token {
        Token {
            user_tag: user_tag(user),
            epoch: 1_770_000_000_123_456,
            issued_at: 1_770_000_000,
            position,
        }
    }

    /// A walk token's time outside PostgreSQL's range is not one of ours
    /// (a 400 naming `since`), never a statement that fails (a 500).
    #[test]
    fn a_forged_walk_time_is_malformed() {
        for created_at_micros in [-0x4000_0000_0000_0000, 0x4000_0000_0000_0000, i64::MIN + 1] {
            let t = token(
                "alice",
                Position::Walk {
                    floor: 7,
                    created_at_micros,
                    id: Uuid::now_v7(),
                },
            );
            assert_eq!(
                Token::decode(&t.encode(), "alice"),
                Err(Refused::Malformed),
                "{created_at_micros}"
            );
        }
    }

    #[test]
    fn tokens_round_trip_for_their_user_only() {
        for position in [
            Position::Since(0),
            Position::Since(i64::MAX),
            Position::Walk {
                floor: 7,
                created_at_micros: -5,
                id: Uuid::now_v7(),
            },
            Position::Walk {
                floor: 0,
                created_at_micros: i64::MAX,
                id: Uuid::max(),
            },
        ] {
            let t = token("alice", position);
            assert_eq!(Token::decode(&t.encode(), "alice"), Ok(t));
            assert_eq!(Token::decode(&t.encode(), "bob"), Err(Refused::NotYours));
        }
    }

    #[test]
    fn garbage_is_no_token() {
        let good = token("alice", Position::Since(3)).encode();
        let walk = token(
            "alice",
            Position::Walk {
                floor: 1,
                created_at_micros: 2,
                id: Uuid::nil(),
            },
        )
        .encode();
        let mut bytes = URL_SAFE_NO_PAD.decode(&good).unwrap();
        bytes[0] = 9;
        let other_version = URL_SAFE_NO_PAD.encode(&bytes);
        bytes[0] = VERSION;
        bytes[1] = 7;
        let other_kind = URL_SAFE_NO_PAD.encode(&bytes);
        let mut negative = URL_SAFE_NO_PAD.decode(&good).unwrap();
        let at = negative.len() - 8;
        negative[at..].copy_from_slice(&(-1i64).to_be_bytes());
        let negative = URL_SAFE_NO_PAD.encode(&negative);
        for bad in [
            "",
            "abc",
            "!!!!",
            &good[1..],
            &good[..good.len() - 2],
            &format!("{good}AA"),
            &walk[..walk.len() - 3],
            &other_version,
            &other_kind,
            &negative,
        ] {
            assert_eq!(
                Token::decode(bad, "alice"),
                Err(Refused::Malformed),
                "{bad}"
            );
        }
    }
}
