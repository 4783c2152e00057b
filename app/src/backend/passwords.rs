//! Password hashing with argon2id (the `argon2` crate's defaults, OWASP's recommended parameters),
//! checked on a small pool of threads of its own so that a flood of guesses costs neither
//! unbounded memory nor unbounded threads.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::Rng;

pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters cannot fail")
        .to_string()
}

/// Constant-time check of `password` against a stored PHC string; a malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Passwords longer than this are refused without hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// [`verify`] on the hashing pool (see [`verify_gated`]). An over-long password is refused
/// unhashed.
pub async fn verify_bounded(password: &str, stored: String) -> bool {
    verify_gated(password, stored, || true).await.unwrap_or(false)
}

/// [`verify`] on a fixed pool of one thread per core (at most four), asking `gate` once a
/// hashing slot is free: `None` when it says no (the caller was throttled while it waited in
/// line), and no hash is computed.
///
/// Each argon2 check takes 19 MiB and tens of milliseconds, so a flood of made-up credentials
/// waits in line (a few bytes each) instead of taking the server's memory. The threads are the
/// pool's own and live as long as the process: on tokio's blocking pool each check could land on
/// a fresh thread (up to 512), and every new thread's allocator arena kept its 19 MiB after the
/// check (a flood of 400 requests grew the server by about 300 MiB that way).
pub async fn verify_gated(password: &str, stored: String, gate: impl FnOnce() -> bool) -> Option<bool> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Some(false);
    }
    let pool = HashPool::get();
    let Ok(_slot) = pool.slots.acquire().await else {
        return Some(false);
    };
    if !gate() {
        return None;
    }
    let password = password.to_string();
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move |memory: &mut Vec<Block>| {
        let _ = answer.send(verify_in(&password, &stored, memory));
    });
    // Never blocks: a slot is held, and the queue has room for one job per slot.
    if pool.jobs.try_send(job).is_err() {
        return Some(false);
    }
    Some(answered.await.unwrap_or(false))
}

/// A check, given the hashing thread's own argon2 memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// [`verify`] in `memory`, which keeps its size for the next check: each hashing thread holds
/// one argon2 memory (19 MiB) for its life instead of asking the allocator for a new one each
/// time (with glibc, freed blocks of that size stay in per-thread arenas, several per thread).
fn verify_in(password: &str, stored: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
        None => Version::default(),
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut computed = vec![0u8; expected.len()];
    let hasher = Argon2::new(algorithm, version, params);
    hasher
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut computed, &mut memory[..blocks])
        .is_ok()
        && bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), computed.as_slice()))
}

/// The hashing threads, fed through a channel with one place per thread; the semaphore lets at
/// most that many callers in, so waiting happens in async tasks, not in the channel.
struct HashPool {
    slots: tokio::sync::Semaphore,
    jobs: std::sync::mpsc::SyncSender<Job>,
}

impl HashPool {
    /// Process-wide like the CPU it shares out; started on first use.
    fn get() -> &'static HashPool {
        static POOL: std::sync::OnceLock<HashPool> = std::sync::OnceLock::new();
        POOL.get_or_init(|| {
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
            let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(threads);
            let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
            for i in 0..threads {
                let queue = queue.clone();
                std::thread::Builder::new()
                    .name(format!("password-hash-{i}"))
                    .spawn(move || {
                        let mut memory = Vec::new();
                        loop {
                            // The lock is held only while taking a job, not while hashing.
                            let next = queue.lock().map(|q| q.recv());
                            match next {
                                Ok(Ok(job)) => job(&mut memory),
                                _ => return,
                            }
                        }
                    })
                    .expect("start a password hashing thread");
            }
            HashPool {
                slots: tokio::sync::Semaphore::new(threads),
                jobs,
            }
        })
    }
}

/// A random password of 24 characters from an unambiguous alphabet.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..24)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A random hex secret of `bytes` bytes.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill(buf.as_mut_slice());
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_same_password() {
        let stored = hash("correct horse");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse", &stored));
        assert!(!verify("correct horsf", &stored));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[tokio::test]
    async fn bounded_verification_checks_and_refuses_overlong_passwords_unhashed() {
        let stored = hash("correct horse");
        let checks = (0..8).map(|i| {
            let stored = stored.clone();
            async move { verify_bounded(if i == 0 { "correct horse" } else { "wrong" }, stored).await }
        });
        let results = futures::future::join_all(checks).await;
        assert_eq!(results.iter().filter(|ok| **ok).count(), 1);
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(
            !verify_bounded(&long, hash(&long)).await,
            "refused even when it matches"
        );
    }

    #[test]
    fn checks_in_kept_memory_agree_with_the_plain_check() {
        let stored = hash("correct horse");
        let mut memory = Vec::new();
        assert!(verify_in("correct horse", &stored, &mut memory));
        let size = memory.len();
        assert!(size > 0);
        assert!(!verify_in("correct horsf", &stored, &mut memory));
        assert_eq!(memory.len(), size, "the memory is reused, not grown");
        assert!(!verify_in("correct horse", "not a hash", &mut memory));
        let cheap = "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$";
        assert!(!verify_in("x", cheap, &mut memory), "no hash part: no match");
    }

    #[tokio::test]
    async fn the_pool_answers_many_concurrent_checks_on_few_threads() {
        let stored = hash("right");
        let checks = (0..40).map(|i| {
            let stored = stored.clone();
            async move { verify_bounded(if i % 10 == 0 { "right" } else { "wrong" }, stored).await }
        });
        let results = futures::future::join_all(checks).await;
        assert_eq!(results.iter().filter(|ok| **ok).count(), 4);
        let hashing_threads = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .filter(|name| name.starts_with("password-hash"))
            .count();
        assert!((1..=4).contains(&hashing_threads), "{hashing_threads} hashing threads");
        let refused = verify_gated("right", stored, || false).await;
        assert_eq!(refused, None, "a closed gate hashes nothing");
    }

    #[test]
    fn generated_passwords_differ() {
        let a = generate();
        assert_eq!(a.len(), 24);
        assert_ne!(a, generate());
    }
}
