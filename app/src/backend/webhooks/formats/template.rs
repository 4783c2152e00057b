//! Bodies written by the user as a minijinja template, for receivers no built-in format fits.
//!
//! The context holds `event` (the [`WebhookEvent`] as serialized, field for field) and `pull` (the
//! pull reference, or none). Output is not auto-escaped; the `tojson` filter gives JSON-safe values
//! (`{{ event.repository | tojson }}`). The body is sent as `application/json` when it parses as
//! JSON, else as `text/plain; charset=utf-8`.
//!
//! Invariants: a template is at most [`MAX_TEMPLATE_BYTES`], its output at most
//! [`MAX_OUTPUT_BYTES`], and its run at most [`FUEL`] instructions, so a template cannot hang or
//! flood a delivery worker; every failure is a [`RenderError`] with the line when minijinja knows it.
//! Fuel does not bound memory: the console compiles and renders templates only through
//! [`super::sandbox`], whose child process calls the functions here.

use std::io;

use minijinja::{context, AutoEscape, Environment, Error, ErrorKind};

use super::{RenderError, Rendered};
use crate::backend::webhooks::event::WebhookEvent;

pub const MAX_TEMPLATE_BYTES: usize = 16 * 1024;
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;
/// Instructions a render may run: thousands of loop iterations, not millions.
pub const FUEL: u64 = 100_000;

const NAME: &str = "template";

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_fuel(Some(FUEL));
    env
}

/// Size and syntax, without rendering (in this process: see [`super::sandbox`]).
pub(super) fn validate(source: &str) -> Result<(), RenderError> {
    check_size(source)?;
    let env = environment();
    env.template_from_named_str(NAME, source).map_err(syntax_error)?;
    Ok(())
}

/// Renders in this process (see [`super::sandbox`]).
pub(super) fn render(source: &str, event: &WebhookEvent) -> Result<Rendered, RenderError> {
    check_size(source)?;
    let env = environment();
    let template = env.template_from_named_str(NAME, source).map_err(syntax_error)?;
    let mut output = CappedOutput::default();
    template
        .render_captured_to(context! { event => event, pull => event.pull_reference() }, &mut output)
        .map_err(|error| {
            if output.overflowed {
                RenderError::BodyTooLarge { max: MAX_OUTPUT_BYTES }
            } else {
                render_error(error)
            }
        })?;
    let content_type = if serde_json::from_slice::<serde::de::IgnoredAny>(&output.bytes).is_ok() {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    Ok(Rendered {
        content_type: content_type.to_string(),
        headers: Vec::new(),
        body: output.bytes,
    })
}

pub(super) fn check_size(source: &str) -> Result<(), RenderError> {
    if source.len() > MAX_TEMPLATE_BYTES {
        return Err(RenderError::TemplateTooLarge {
            size: source.len(),
            max: MAX_TEMPLATE_BYTES,
        });
    }
    Ok(())
}

fn syntax_error(error: Error) -> RenderError {
    RenderError::TemplateSyntax {
        line: error.line(),
        message: error.detail().map_or_else(|| error.kind().to_string(), str::to_string),
    }
}

fn render_error(error: Error) -> RenderError {
    match error.kind() {
        ErrorKind::OutOfFuel => RenderError::TemplateTooMuchWork,
        ErrorKind::SyntaxError => syntax_error(error),
        kind => RenderError::TemplateFailed {
            line: error.line(),
            message: match error.detail() {
                Some(detail) => format!("{kind}: {detail}"),
                None => kind.to_string(),
            },
        },
    }
}

/// Collects the output and refuses to grow past [`MAX_OUTPUT_BYTES`].
#[derive(Default)]
struct CappedOutput {
    bytes: Vec<u8>,
    overflowed: bool,
}

impl io::Write for CappedOutput {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + data.len() > MAX_OUTPUT_BYTES {
            self.overflowed = true;
            return Err(io::Error::other("template output limit reached"));
        }
        self.bytes.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::backend::webhooks::formats::test_events;

    const JSON_TEMPLATE: &str = r#"{
  "text": {{ (event.action ~ " " ~ (event.repository ~ ":" ~ event.tag if event.tag else event.registry_host)) | tojson }},
  "pull": {{ pull | tojson }},
  "platforms": [{% for p in event.platforms %}{{ (p.os ~ "/" ~ p.architecture) | tojson }}{% if not loop.last %}, {% endif %}{% endfor %}],
  "by": {{ event.actor | tojson }}
}"#;

    const TEXT_TEMPLATE: &str =
        "{{ event.action }} {{ event.repository }}{% if event.tag %}:{{ event.tag }}{% endif %} by {{ event.actor or \"someone\" }}";

    #[test]
    fn json_output_is_sent_as_json() {
        let rendered = render(JSON_TEMPLATE, &test_events::push_index()).expect("renders");
        assert_eq!(rendered.content_type, "application/json");
        let body: Value = serde_json::from_slice(&rendered.body).expect("JSON");
        assert_eq!(body["text"], "push shop/web:2.0.0");
        assert_eq!(body["pull"], "registry.example.com:5000/shop/web:2.0.0");
        assert_eq!(body["platforms"][1], "linux/arm64");
        assert_eq!(body["by"], "robot$ci");
    }

    #[test]
    fn tojson_keeps_hostile_values_inside_their_string() {
        let mut event = test_events::push_single();
        event.actor = Some("\"}, \"admin\": true, \"x\": {\"".to_string());
        let rendered = render(JSON_TEMPLATE, &event).expect("renders");
        let body: Value = serde_json::from_slice(&rendered.body).expect("JSON");
        assert_eq!(body["by"], "\"}, \"admin\": true, \"x\": {\"");
        assert!(body.get("admin").is_none());
    }

    #[test]
    fn text_output_is_not_escaped() {
        let mut event = test_events::push_single();
        event.actor = Some("<ops & dev>".to_string());
        let rendered = render(TEXT_TEMPLATE, &event).expect("renders");
        assert_eq!(rendered.content_type, "text/plain; charset=utf-8");
        assert_eq!(
            String::from_utf8_lossy(&rendered.body),
            "push shop/api:v1.4.2 by <ops & dev>"
        );
    }

    #[test]
    fn documented_plain_text_example() {
        let source = "{{ event.action }} {{ event.repository }}:{{ event.tag }} by {{ event.actor }}";
        let rendered = render(source, &test_events::push_index()).expect("renders");
        assert_eq!(rendered.content_type, "text/plain; charset=utf-8");
        assert_eq!(rendered.body, b"push shop/web:2.0.0 by robot$ci");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let source = "line one\n{{ event.repository }}\n{% if event.tag %}no end";
        let error = validate(source).expect_err("invalid");
        match &error {
            RenderError::TemplateSyntax { line, message } => {
                assert_eq!(*line, Some(3));
                assert!(message.contains("unexpected end of input"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(render(source, &test_events::push_single()), Err(error));
        assert_eq!(validate(TEXT_TEMPLATE), Ok(()));
    }

    #[test]
    fn runtime_errors_name_the_line() {
        let source = "ok\n{{ event.repository | no_such_filter }}";
        match render(source, &test_events::push_single()) {
            Err(RenderError::TemplateFailed { line, message }) => {
                assert_eq!(line, Some(2));
                assert!(message.contains("unknown filter"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn endless_loops_run_out_of_fuel() {
        let source = "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}";
        assert_eq!(
            render(source, &test_events::push_single()),
            Err(RenderError::TemplateTooMuchWork)
        );
        let recursive = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}";
        assert!(render(recursive, &test_events::push_single()).is_err());
    }

    #[test]
    fn output_is_capped() {
        let source = "{{ range(100000) | join(',') }}";
        assert_eq!(
            render(source, &test_events::push_single()),
            Err(RenderError::BodyTooLarge { max: MAX_OUTPUT_BYTES })
        );
        let just_under = "{{ range(20000) | join(',') }}";
        assert!(render(just_under, &test_events::push_single()).is_ok());
    }

    #[test]
    fn templates_are_size_limited() {
        let source = "x".repeat(MAX_TEMPLATE_BYTES + 1);
        assert_eq!(
            validate(&source),
            Err(RenderError::TemplateTooLarge {
                size: MAX_TEMPLATE_BYTES + 1,
                max: MAX_TEMPLATE_BYTES
            })
        );
    }

    #[test]
    fn snapshots() {
        for (name, event) in test_events::all() {
            let json = render(JSON_TEMPLATE, &event).expect("renders");
            let text = render(TEXT_TEMPLATE, &event).expect("renders");
            insta::assert_snapshot!(
                name,
                format!(
                    "Content-Type: {}\n{}\n\nContent-Type: {}\n{}",
                    json.content_type,
                    String::from_utf8_lossy(&json.body),
                    text.content_type,
                    String::from_utf8_lossy(&text.body)
                )
            );
        }
    }
}
