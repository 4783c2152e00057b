//! Templates are compiled and rendered in a child process with a memory limit, never in the
//! console's own process.
//!
//! Why a process and not settings of minijinja: fuel bounds the number of instructions, not what
//! one instruction allocates. `~` concatenates without any limit, `*` repeats a string up to
//! 100 MB, and the compiler folds constant expressions (`"x" * 99999999 ~ ...`) before any fuel
//! is counted; filters (`join`, `replace`, `indent`, `tojson`, ...) build strings of any size
//! too. `{% set a = "x" * 16384 %}` followed by twenty `{% set a = a ~ a %}` asks for 16 GiB
//! within a few dozen instructions. minijinja has no hook on its operators or on allocation, so
//! bounding each of these ways in-process would mean patching the interpreter; one address-space
//! limit on a process bounds them all, and those added by later minijinja versions.
//!
//! So the wharf binary runs itself with the hidden `render-template` subcommand ([`run_child`]):
//! the child limits its own address space ([`MEMORY_LIMIT`]), CPU time and core dumps before it
//! reads anything, reads one JSON job on stdin (the template and the event), and writes one JSON
//! answer on stdout. An allocation over the limit aborts the child only; the parent reads at most
//! [`MAX_ANSWER_BYTES`], kills a child still running after [`TIMEOUT`], and turns every way a
//! child can end into a [`RenderError`] for the webhook's page. At most [`CONCURRENT_RENDERS`]
//! children run at once, so previews cannot add up to more than that many limits of memory.
//!
//! Fuel, the template size limit and the output cap stay in force inside the child.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use super::{template, RenderError, Rendered};
use crate::backend::webhooks::event::WebhookEvent;

/// The hidden subcommand of the wharf binary that runs [`run_child`].
pub const SUBCOMMAND: &str = "render-template";
/// The address space a child may use: the binary's own mappings and a few threads' worth of
/// heap, far more than a 256 KiB body needs, far less than the console can spare.
pub const MEMORY_LIMIT: u64 = 256 * 1024 * 1024;
/// Wall-clock time a child may take; fuel ends a busy template long before.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// CPU seconds a child may use (the kernel stops it after that, even if the parent is gone).
const CPU_LIMIT_SECS: u64 = 10;
/// How long a render waits for one of the [`CONCURRENT_RENDERS`] slots.
const QUEUE_WAIT: Duration = Duration::from_secs(30);
/// Children running at once.
pub const CONCURRENT_RENDERS: usize = 2;
/// A job is the template and one event: far below this.
const MAX_JOB_BYTES: u64 = 1024 * 1024;
/// An answer is the body as a JSON string (at most six bytes per byte when escaped) and a little
/// more.
const MAX_ANSWER_BYTES: u64 = 6 * template::MAX_OUTPUT_BYTES as u64 + 64 * 1024;

/// What the parent sends: a template, and the event to render it with (none: compile only).
#[derive(Serialize, Deserialize)]
struct Job {
    source: String,
    event: Option<WebhookEvent>,
}

/// A rendered template body (always text: the template writes strings).
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Output {
    content_type: String,
    body: String,
}

/// What the child answers; `None` for a compile-only job.
type Answer = Result<Option<Output>, RenderError>;

/// Starts template children and bounds how many run at once.
pub struct TemplateSandbox {
    /// The program and its arguments; `None` renders in this process (unit tests only).
    command: Option<(PathBuf, Vec<OsString>)>,
    slots: Semaphore,
}

impl TemplateSandbox {
    /// Children are this very binary, run with the hidden [`SUBCOMMAND`]. `/proc/self/exe` still
    /// names it after an upgrade replaced the file on disk.
    pub fn this_binary() -> std::io::Result<TemplateSandbox> {
        let proc_exe = PathBuf::from("/proc/self/exe");
        let program = if proc_exe.exists() {
            proc_exe
        } else {
            std::env::current_exe()?
        };
        Ok(TemplateSandbox::with_program(program, vec![SUBCOMMAND.into()]))
    }

    /// Children are `program args...`, which must end up in [`run_child`].
    pub fn with_program(program: PathBuf, args: Vec<OsString>) -> TemplateSandbox {
        TemplateSandbox {
            command: Some((program, args)),
            slots: Semaphore::new(CONCURRENT_RENDERS),
        }
    }

    /// Renders in this process, without any memory bound: for unit tests of trusted templates.
    #[cfg(test)]
    pub fn in_this_process() -> TemplateSandbox {
        TemplateSandbox {
            command: None,
            slots: Semaphore::new(CONCURRENT_RENDERS),
        }
    }

    /// Renders `source` with `event` in a child.
    pub async fn render(&self, source: &str, event: &WebhookEvent) -> Result<Rendered, RenderError> {
        template::check_size(source)?;
        let output = self
            .run(source, Some(event))
            .await?
            .ok_or_else(|| RenderError::RendererFailed("the renderer answered without a body".into()))?;
        Ok(Rendered {
            content_type: output.content_type,
            headers: Vec::new(),
            body: output.body.into_bytes(),
        })
    }

    /// Checks a template's size and syntax (compiling it, in a child: the compiler evaluates
    /// constant expressions).
    pub async fn validate(&self, source: &str) -> Result<(), RenderError> {
        template::check_size(source)?;
        self.run(source, None).await.map(|_| ())
    }

    async fn run(&self, source: &str, event: Option<&WebhookEvent>) -> Answer {
        let job = Job {
            source: source.to_string(),
            event: event.cloned(),
        };
        let Some((program, args)) = &self.command else {
            return answer(job);
        };
        let job = serde_json::to_vec(&job).map_err(|e| RenderError::Json(e.to_string()))?;
        let _slot = tokio::time::timeout(QUEUE_WAIT, self.slots.acquire())
            .await
            .map_err(|_| RenderError::RendererBusy)?
            .map_err(|_| RenderError::RendererBusy)?;
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| RenderError::RendererFailed(format!("cannot start the template renderer: {e}")))?;
        let exchanged = tokio::time::timeout(TIMEOUT, exchange(&mut child, &job)).await;
        let Ok(exchanged) = exchanged else {
            // Dropping the child kills it (`kill_on_drop`); tokio reaps it.
            return Err(RenderError::TemplateTimedOut {
                secs: TIMEOUT.as_secs(),
            });
        };
        let (status, stdout) = exchanged.map_err(|e| RenderError::RendererFailed(e.to_string()))?;
        read_answer(status, &stdout)
    }
}

/// Writes the job, reads the answer (capped) and waits for the child to end.
async fn exchange(child: &mut tokio::process::Child, job: &[u8]) -> std::io::Result<(ExitStatus, Vec<u8>)> {
    let mut stdin = child.stdin.take().ok_or_else(|| std::io::Error::other("no stdin"))?;
    let stdout = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?;
    // A child that died early closes its stdin: its exit status says why, not this write.
    let _ = stdin.write_all(job).await;
    drop(stdin);
    let mut answer = Vec::new();
    stdout.take(MAX_ANSWER_BYTES + 1).read_to_end(&mut answer).await?;
    let status = child.wait().await?;
    Ok((status, answer))
}

/// The child's answer, or why there is none.
fn read_answer(status: ExitStatus, stdout: &[u8]) -> Answer {
    if status.success() {
        if stdout.len() as u64 > MAX_ANSWER_BYTES {
            return Err(RenderError::RendererFailed("the renderer's answer is too large".into()));
        }
        // The answer is itself a `Result`: the render's, inside the reading's.
        return serde_json::from_slice::<Answer>(stdout)
            .map_err(|e| RenderError::RendererFailed(format!("the renderer's answer cannot be read: {e}")))?;
    }
    Err(stopped(status))
}

/// How a child that did not answer ended, in the user's terms.
fn stopped(status: ExitStatus) -> RenderError {
    use std::os::unix::process::ExitStatusExt;
    const SIGKILL: i32 = 9;
    const SIGABRT: i32 = 6;
    const SIGSEGV: i32 = 11;
    const SIGXCPU: i32 = 24;
    match status.signal() {
        // An allocation over the limit aborts; an exhausted stack or address space faults.
        Some(SIGABRT | SIGSEGV | SIGKILL) => RenderError::TemplateTooMuchMemory {
            max_mib: MEMORY_LIMIT / (1024 * 1024),
        },
        Some(SIGXCPU) => RenderError::TemplateTimedOut { secs: CPU_LIMIT_SECS },
        Some(signal) => RenderError::RendererFailed(format!("the template renderer was stopped by signal {signal}")),
        None => RenderError::RendererFailed(format!("the template renderer failed ({status})")),
    }
}

/// Compiles, and renders when there is an event.
fn answer(job: Job) -> Answer {
    match job.event {
        None => template::validate(&job.source).map(|()| None),
        Some(event) => template::render(&job.source, &event).map(|rendered| {
            Some(Output {
                content_type: rendered.content_type,
                body: String::from_utf8_lossy(&rendered.body).into_owned(),
            })
        }),
    }
}

/// The child: limits itself, then answers one job from stdin on stdout. Runs before any thread
/// or runtime is started.
pub fn run_child() -> ExitCode {
    if let Err(err) = limit_this_process() {
        eprintln!("error: cannot limit the template renderer: {err}");
        return ExitCode::FAILURE;
    }
    let mut input = Vec::new();
    if let Err(err) = std::io::stdin().take(MAX_JOB_BYTES).read_to_end(&mut input) {
        eprintln!("error: cannot read the job: {err}");
        return ExitCode::FAILURE;
    }
    let answer = match serde_json::from_slice::<Job>(&input) {
        Ok(job) => answer(job),
        Err(err) => Err(RenderError::RendererFailed(format!("the job cannot be read: {err}"))),
    };
    let mut stdout = std::io::stdout().lock();
    match serde_json::to_writer(&mut stdout, &answer).map(|()| stdout.flush()) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

fn limit_this_process() -> nix::Result<()> {
    use nix::sys::resource::{setrlimit, Resource};
    setrlimit(Resource::RLIMIT_AS, MEMORY_LIMIT, MEMORY_LIMIT)?;
    setrlimit(Resource::RLIMIT_CPU, CPU_LIMIT_SECS, CPU_LIMIT_SECS)?;
    // An aborted child must not write a core file of up to the memory limit.
    setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn every_way_a_child_ends_is_an_error_for_the_user() {
        let aborted = ExitStatus::from_raw(6);
        assert_eq!(
            read_answer(aborted, b""),
            Err(RenderError::TemplateTooMuchMemory {
                max_mib: MEMORY_LIMIT / (1024 * 1024)
            })
        );
        let out_of_cpu = ExitStatus::from_raw(24);
        assert!(matches!(
            read_answer(out_of_cpu, b""),
            Err(RenderError::TemplateTimedOut { .. })
        ));
        let failed = ExitStatus::from_raw(1 << 8);
        assert!(matches!(read_answer(failed, b""), Err(RenderError::RendererFailed(_))));
        let answered = ExitStatus::from_raw(0);
        let json = br#"{"Ok":{"content_type":"text/plain","body":"x"}}"#;
        assert_eq!(read_answer(answered, json).unwrap().unwrap().body, "x");
        let json = br#"{"Err":"TemplateTooMuchWork"}"#;
        assert_eq!(read_answer(answered, json), Err(RenderError::TemplateTooMuchWork));
        let garbage = ExitStatus::from_raw(0);
        assert!(matches!(
            read_answer(garbage, b"{"),
            Err(RenderError::RendererFailed(_))
        ));
        let too_large = vec![b' '; MAX_ANSWER_BYTES as usize + 1];
        assert!(matches!(
            read_answer(garbage, &too_large),
            Err(RenderError::RendererFailed(_))
        ));
    }

    #[test]
    fn answers_round_trip_through_json() {
        let answer: Answer = Ok(Some(Output {
            content_type: "text/plain; charset=utf-8".into(),
            body: "a \"b\" \u{1}".into(),
        }));
        let json = serde_json::to_vec(&answer).unwrap();
        let back: Answer = serde_json::from_slice(&json).unwrap();
        assert_eq!(back.unwrap().unwrap().body, "a \"b\" \u{1}");
        let error: Answer = Err(RenderError::TemplateSyntax {
            line: Some(2),
            message: "x".into(),
        });
        let back: Answer = serde_json::from_slice(&serde_json::to_vec(&error).unwrap()).unwrap();
        assert_eq!(back.err(), error.err());
    }
}
