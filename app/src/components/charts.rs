//! Charts drawn as inline SVG when the page is rendered: they show with JavaScript off, print
//! as they look, and each mark has a `<title>` (the browser's tooltip) with its exact value.
//! The geometry is plain functions, tested on their own; pages put a table of the exact
//! figures beside each chart.

use leptos::prelude::*;

use crate::format::{grouped, human_size};

/// Width of every chart's drawing, in SVG units (it scales to its box).
const WIDTH: f64 = 720.0;
const LABEL_WIDTH: f64 = 220.0;
const ROW_HEIGHT: f64 = 26.0;
const DAILY_HEIGHT: f64 = 160.0;

/// One bar: a label, the whole value, and the part of it drawn apart (shared bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub part: i64,
}

/// Lengths of a bar and of its part for a scale whose longest bar is `span` long.
pub fn bar_lengths(value: i64, part: i64, max: i64, span: f64) -> (f64, f64) {
    if max <= 0 {
        return (0.0, 0.0);
    }
    let scale = span / max as f64;
    let whole = value.max(0) as f64 * scale;
    (whole, (part.clamp(0, value.max(0)) as f64 * scale).min(whole))
}

/// Horizontal bars, largest value as the full width; the part is drawn lighter at the bar's end.
#[component]
pub fn BarChart(bars: Vec<Bar>, #[prop(into)] title: String, #[prop(into)] part_name: String) -> impl IntoView {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0);
    let height = ROW_HEIGHT * bars.len() as f64 + 4.0;
    let span = WIDTH - LABEL_WIDTH - 90.0;
    let rows = bars
        .into_iter()
        .enumerate()
        .map(|(i, bar)| {
            let y = i as f64 * ROW_HEIGHT + 2.0;
            let (whole, part) = bar_lengths(bar.value, bar.part, max, span);
            let tip = format!(
                "{}: {} ({} bytes), {} {}",
                bar.label,
                human_size(bar.value),
                grouped(bar.value),
                human_size(bar.part),
                part_name
            );
            view! {
                <g class="bar">
                    <title>{tip}</title>
                    <text x=LABEL_WIDTH - 8.0 y=y + 17.0 text-anchor="end" class="chart-label">{shorten(&bar.label, 30)}</text>
                    <rect x=LABEL_WIDTH y=y + 4.0 width=whole - part height=ROW_HEIGHT - 8.0 class="chart-own"/>
                    <rect x=LABEL_WIDTH + whole - part y=y + 4.0 width=part height=ROW_HEIGHT - 8.0 class="chart-part"/>
                    <text x=LABEL_WIDTH + whole + 6.0 y=y + 17.0 class="chart-value">{human_size(bar.value)}</text>
                </g>
            }
        })
        .collect_view();
    let label = title.clone();
    view! {
        <svg class="chart" viewBox=format!("0 0 {WIDTH} {height}") role="img" aria-label=label
            preserveAspectRatio="xMinYMin meet" width="100%">
            <title>{title}</title>
            {rows}
        </svg>
    }
}

/// `label` cut to `max` characters with an ellipsis.
pub fn shorten(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        return label.to_string();
    }
    let kept: String = label.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// Each day's value, or the last value before it when the day has none (a day whose refresh
/// did not run held what the day before held); `None` before the first value.
pub fn carried_forward(values: &[Option<i64>]) -> Vec<Option<i64>> {
    let mut last = None;
    values
        .iter()
        .map(|v| {
            if v.is_some() {
                last = *v;
            }
            last
        })
        .collect()
}

/// The SVG path of a line through the known points (x spread over `width`, y from 0 at the
/// bottom of `height` to `max` at the top); a gap starts a new segment.
pub fn line_path(values: &[Option<i64>], max: i64, width: f64, height: f64) -> String {
    let step = if values.len() > 1 {
        width / (values.len() - 1) as f64
    } else {
        0.0
    };
    let mut path = String::new();
    let mut drawing = false;
    for (i, value) in values.iter().enumerate() {
        let Some(value) = value else {
            drawing = false;
            continue;
        };
        let y = height - (*value as f64 / max.max(1) as f64) * height;
        path.push_str(&format!(
            "{}{:.1} {:.1} ",
            if drawing { "L" } else { "M" },
            i as f64 * step,
            y
        ));
        drawing = true;
    }
    path.trim_end().to_string()
}

/// One day of a daily chart: its label (a date) and value.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyValue {
    pub label: String,
    pub value: Option<i64>,
}

/// How a daily chart writes its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyKind {
    /// Bytes held, drawn as a line (days without a value carry the one before).
    Bytes,
    /// A count per day, drawn as columns.
    Count,
}

impl DailyKind {
    fn show(self, value: i64) -> String {
        match self {
            DailyKind::Bytes => human_size(value),
            DailyKind::Count => grouped(value),
        }
    }
}

/// A chart of one value per day, oldest left, with the largest value and the first and last
/// dates written on it.
#[component]
pub fn DailyChart(days: Vec<DailyValue>, kind: DailyKind, #[prop(into)] title: String) -> impl IntoView {
    let values: Vec<Option<i64>> = match kind {
        DailyKind::Bytes => carried_forward(&days.iter().map(|d| d.value).collect::<Vec<_>>()),
        DailyKind::Count => days.iter().map(|d| d.value).collect(),
    };
    let max = values.iter().flatten().copied().max().unwrap_or(0).max(1);
    let plot = WIDTH - 80.0;
    let slot = plot / days.len().max(1) as f64;
    let marks = days
        .iter()
        .zip(&values)
        .enumerate()
        .map(|(i, (day, value))| daily_mark(kind, &day.label, *value, max, 70.0 + i as f64 * slot, slot))
        .collect_view();
    let line = (kind == DailyKind::Bytes).then(|| {
        let path = line_path(&values, max, plot - slot, DAILY_HEIGHT);
        view! { <path d=path transform=format!("translate({:.1} 10)", 70.0 + slot / 2.0) class="chart-line"/> }
    });
    let first = days.first().map(|d| d.label.clone()).unwrap_or_default();
    let last = days.last().map(|d| d.label.clone()).unwrap_or_default();
    let label = title.clone();
    view! {
        <svg class="chart" viewBox=format!("0 0 {WIDTH} {}", DAILY_HEIGHT + 34.0) role="img" aria-label=label
            preserveAspectRatio="xMinYMin meet" width="100%">
            <title>{title}</title>
            <line x1="70" y1="10" x2=WIDTH - 10.0 y2="10" class="chart-grid"/>
            <line x1="70" y1=DAILY_HEIGHT + 10.0 x2=WIDTH - 10.0 y2=DAILY_HEIGHT + 10.0 class="chart-axis"/>
            <text x="64" y="14" text-anchor="end" class="chart-value">{kind.show(max)}</text>
            <text x="64" y=DAILY_HEIGHT + 14.0 text-anchor="end" class="chart-value">"0"</text>
            {marks}
            {line}
            <text x="70" y=DAILY_HEIGHT + 28.0 class="chart-label">{first}</text>
            <text x=WIDTH - 10.0 y=DAILY_HEIGHT + 28.0 text-anchor="end" class="chart-label">{last}</text>
        </svg>
    }
}

/// A day's column (counts) or hover strip (bytes), with its exact value as the tooltip.
fn daily_mark(kind: DailyKind, label: &str, value: Option<i64>, max: i64, x: f64, slot: f64) -> impl IntoView {
    let tip = match value {
        Some(v) => format!("{label}: {}", kind.show(v)),
        None => format!("{label}: not recorded"),
    };
    let height = value
        .map(|v| v.max(0) as f64 / max as f64 * DAILY_HEIGHT)
        .unwrap_or(0.0);
    let (y, h, class) = match kind {
        DailyKind::Count => (DAILY_HEIGHT + 10.0 - height, height, "chart-column"),
        DailyKind::Bytes => (10.0, DAILY_HEIGHT, "chart-strip"),
    };
    view! {
        <rect x=x + slot * 0.1 y=y width=slot * 0.8 height=h class=class>
            <title>{tip}</title>
        </rect>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest() {
        assert_eq!(bar_lengths(50, 10, 100, 200.0), (100.0, 20.0));
        assert_eq!(bar_lengths(100, 100, 100, 200.0), (200.0, 200.0));
        // A part larger than its bar, or negative values, stay within the bar.
        assert_eq!(bar_lengths(10, 50, 100, 200.0), (20.0, 20.0));
        assert_eq!(bar_lengths(-5, -5, 100, 200.0), (0.0, 0.0));
        assert_eq!(bar_lengths(5, 1, 0, 200.0), (0.0, 0.0));
    }

    #[test]
    fn missing_days_carry_the_value_before() {
        assert_eq!(
            carried_forward(&[None, Some(3), None, Some(5), None]),
            [None, Some(3), Some(3), Some(5), Some(5)]
        );
    }

    #[test]
    fn lines_start_again_after_a_gap() {
        assert_eq!(
            line_path(&[Some(0), Some(10), None, Some(5)], 10, 30.0, 100.0),
            "M0.0 100.0 L10.0 0.0 M30.0 50.0"
        );
        assert_eq!(line_path(&[Some(4)], 0, 30.0, 10.0), "M0.0 -30.0");
        assert_eq!(line_path(&[], 10, 30.0, 10.0), "");
    }

    #[test]
    fn long_labels_are_shortened() {
        assert_eq!(shorten("team-a/app", 30), "team-a/app");
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}
