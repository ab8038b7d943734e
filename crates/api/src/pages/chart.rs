//! The geometry of a dimension's trend chart: the released mean per round as a
//! line with its 95% confidence band, drawn as inline SVG by the team template (no
//! script, nothing fetched). Only released figures are plotted; a hidden round is a
//! gap in line and band, marked by a grey column (named in its tooltip and in the
//! caption, never by sideways text), so a reader sees that a round happened without
//! anything about its answers. A line never bridges a gap: joining the points on
//! either side would suggest a value nobody released. A released round with no
//! released neighbour (the first round, or one between hidden ones) is a dot with
//! its interval drawn as a bar, since there is no band to draw. A round released
//! rounded is a lone dot, outside any line or band: its mean is only known to its
//! grid.
//!
//! A pulse after which the team's leader committed to an action on the dimension
//! gets a marker: a dashed vertical line just after its point, with a flag on
//! top, so the pulses to its right are the ones after the action. Named in its
//! tooltip, the caption and the description.
//!
//! Every chart also gets a sentence describing it ([`TrendChart::description`]) and
//! a caption saying what is drawn ([`TrendChart::caption`]); the page adds a data
//! table with every figure. Text is sized for the chart's drawn width (the page
//! caps it), so axis labels read at 12–14 px on a phone and on a desktop.

use super::language::Text;

/// One round on the chart, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPoint {
    /// What the round is called, e.g. "Pulse of 7 Dec 2026".
    pub label: String,
    /// Its short name under the x axis, e.g. "7 Dec".
    pub tick: String,
    pub value: PointValue,
    /// What the leader committed to on this dimension after this pulse.
    pub commitments: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PointValue {
    /// Released: the mean and, when the release has one, its 95% interval.
    Figure { mean: f64, band: Option<(f64, f64)> },
    /// The round was suppressed to protect anonymity.
    Hidden,
    /// Released rounded to protect anonymity: the mean on its grid.
    Rounded { mean: f64 },
    /// The round was released but did not ask about this dimension.
    NotAsked,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub position: f64,
    pub label: String,
    /// SVG `text-anchor`: the latest round's label ends at its point, so it stays
    /// inside the chart.
    pub anchor: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dot {
    pub x: f64,
    pub y: f64,
    /// Read by pointer hover and some screen readers:
    /// "Pulse of 7 Dec 2026: 5.3 (95% interval 4.9–5.7)".
    pub title: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HiddenColumn {
    pub x: f64,
    pub width: f64,
    pub title: String,
}

/// A released round's 95% interval drawn as a vertical bar: for a round whose
/// neighbours are not released, where no band can be drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalBar {
    pub x: f64,
    pub top: f64,
    pub bottom: f64,
}

/// A commitment made after a pulse: a dashed line from `top` to `bottom` at `x`,
/// with a flag (`flag`, a polygon's points) on top.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub x: f64,
    pub flag: String,
    pub title: String,
}

/// Everything the template draws, in the SVG's own coordinates ([`WIDTH`]×[`HEIGHT`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TrendChart {
    pub y_ticks: Vec<Tick>,
    pub x_labels: Vec<Tick>,
    /// `points` attributes of one polygon per run of released rounds with a band.
    pub bands: Vec<String>,
    /// `points` attributes of one polyline per run of released rounds.
    pub lines: Vec<String>,
    pub dots: Vec<Dot>,
    pub intervals: Vec<IntervalBar>,
    pub hidden: Vec<HiddenColumn>,
    pub markers: Vec<Marker>,
    pub description: String,
    /// What the chart draws, in words under it: promises a line and a band only
    /// when there are some.
    pub caption: String,
}

/// A released round inside a run drawn as one line: x, y and the band's ends.
type RunPoint = (f64, f64, Option<(f64, f64)>);

pub const WIDTH: f64 = 400.0;
pub const HEIGHT: f64 = 210.0;
pub const PLOT_LEFT: f64 = 34.0;
pub const PLOT_RIGHT: f64 = 390.0;
pub const PLOT_TOP: f64 = 12.0;
pub const PLOT_BOTTOM: f64 = 180.0;
/// Below this many labels the x axis stays readable on a phone.
const MAX_X_LABELS: usize = 4;

/// The chart of one dimension on a scale from `scale_min` to `scale_max`.
pub fn trend_chart(
    dimension_label: &str,
    points: &[ChartPoint],
    scale_min: f64,
    scale_max: f64,
    t: Text,
) -> TrendChart {
    let geometry = Geometry::new(points.len(), scale_min, scale_max);
    let Series {
        bands,
        lines,
        dots,
        intervals,
        hidden,
    } = series(points, geometry, t);
    let markers = markers(points, geometry, t);
    let y_ticks = y_ticks(geometry);
    let x_labels = x_labels(points, geometry);
    let caption = caption(
        &lines,
        &dots,
        &intervals,
        &hidden,
        points
            .iter()
            .any(|point| matches!(point.value, PointValue::Rounded { .. })),
        !markers.is_empty(),
        t,
    );
    TrendChart {
        y_ticks,
        x_labels,
        bands,
        lines,
        dots,
        intervals,
        hidden,
        markers,
        description: describe(dimension_label, points, scale_min, scale_max, t),
        caption,
    }
}

/// Where a round and a value land in the SVG.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    count: usize,
    /// The distance between two rounds.
    step: f64,
    scale_min: f64,
    scale_max: f64,
}

impl Geometry {
    fn new(count: usize, scale_min: f64, scale_max: f64) -> Self {
        let step = if count > 1 {
            (PLOT_RIGHT - PLOT_LEFT - 24.0) / (count - 1) as f64
        } else {
            0.0
        };
        Self {
            count,
            step,
            scale_min,
            scale_max,
        }
    }

    fn x_of(&self, index: usize) -> f64 {
        tenths(if self.count > 1 {
            PLOT_LEFT + 12.0 + index as f64 * self.step
        } else {
            (PLOT_LEFT + PLOT_RIGHT) / 2.0
        })
    }

    fn y_of(&self, value: f64) -> f64 {
        let (scale_min, scale_max) = (self.scale_min, self.scale_max);
        let clamped = value.clamp(scale_min, scale_max);
        tenths(
            PLOT_TOP + (scale_max - clamped) / (scale_max - scale_min) * (PLOT_BOTTOM - PLOT_TOP),
        )
    }
}

/// What the chart draws for the rounds themselves.
#[derive(Debug, Default)]
struct Series {
    bands: Vec<String>,
    lines: Vec<String>,
    dots: Vec<Dot>,
    intervals: Vec<IntervalBar>,
    hidden: Vec<HiddenColumn>,
}

impl Series {
    /// Draws a run of released rounds: a line with its band, or a lone round's
    /// interval bar.
    fn finish_run(&mut self, run: &mut Vec<RunPoint>, geometry: Geometry) {
        let y_of = |value: f64| geometry.y_of(value);
        let Self {
            bands,
            lines,
            intervals,
            ..
        } = self;
        if let [(x, _, Some((low, high)))] = run.as_slice() {
            intervals.push(IntervalBar {
                x: *x,
                top: y_of(*high),
                bottom: y_of(*low),
            });
        }
        if run.len() > 1 {
            lines.push(
                run.iter()
                    .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        if run.len() > 1 && run.iter().all(|(_, _, band)| band.is_some()) {
            let upper = run.iter().filter_map(|(x, _, band)| {
                band.map(|(_, high)| format!("{x:.1},{:.1}", y_of(high)))
            });
            let lower = run
                .iter()
                .rev()
                .filter_map(|(x, _, band)| band.map(|(low, _)| format!("{x:.1},{:.1}", y_of(low))));
            bands.push(upper.chain(lower).collect::<Vec<_>>().join(" "));
        }
        run.clear();
    }
}

/// The rounds drawn: runs of released rounds as lines with bands, rounded rounds
/// as dots, hidden rounds as grey columns.
fn series(points: &[ChartPoint], geometry: Geometry, t: Text) -> Series {
    let (count, step) = (geometry.count, geometry.step);
    let y_of = |value: f64| geometry.y_of(value);
    let mut series = Series::default();
    let mut run: Vec<RunPoint> = Vec::new();
    for (index, point) in points.iter().enumerate() {
        let x = geometry.x_of(index);
        match point.value {
            PointValue::Figure { mean, band } => {
                run.push((x, y_of(mean), band));
                series.dots.push(Dot {
                    x,
                    y: y_of(mean),
                    title: format!("{}: {}", point.label, figure_text(mean, band, t)),
                });
            }
            PointValue::Hidden => {
                series.finish_run(&mut run, geometry);
                let width = tenths(if count > 1 {
                    (step * 0.7).min(28.0)
                } else {
                    28.0
                });
                series.hidden.push(HiddenColumn {
                    x: tenths(x - width / 2.0),
                    width,
                    title: format!("{}: {}", point.label, t.tr("hidden to protect anonymity")),
                });
            }
            PointValue::Rounded { mean } => {
                series.finish_run(&mut run, geometry);
                series.dots.push(Dot {
                    x,
                    y: y_of(mean),
                    title: format!(
                        "{}: {}",
                        point.label,
                        t.tr1("about {} (rounded to protect anonymity)", t.decimal(mean))
                    ),
                });
            }
            PointValue::NotAsked => series.finish_run(&mut run, geometry),
        }
    }
    series.finish_run(&mut run, geometry);
    series
}

/// A flag after each pulse the leader committed to act on.
fn markers(points: &[ChartPoint], geometry: Geometry, t: Text) -> Vec<Marker> {
    let (count, step) = (geometry.count, geometry.step);
    let x_of = |index: usize| geometry.x_of(index);
    points
        .iter()
        .enumerate()
        .filter(|(_, point)| !point.commitments.is_empty())
        .map(|(index, point)| {
            // Halfway to the next pulse, or just clear of the latest one's interval
            // bar (its caps reach 6 units either side).
            let x = tenths(if index + 1 < count {
                x_of(index) + step / 2.0
            } else {
                x_of(index) + 11.0
            });
            Marker {
                x,
                flag: format!(
                    "{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                    x,
                    PLOT_TOP - 8.0,
                    x + 9.0,
                    PLOT_TOP - 4.0,
                    x,
                    PLOT_TOP
                ),
                title: t.tr2(
                    "Committed to after {}: {}.",
                    &point.label,
                    point.commitments.join("; "),
                ),
            }
        })
        .collect()
}

/// The value axis: every value of a short scale, every second of a long one.
fn y_ticks(geometry: Geometry) -> Vec<Tick> {
    let (scale_min, scale_max) = (geometry.scale_min, geometry.scale_max);
    let y_of = |value: f64| geometry.y_of(value);
    (scale_min as i64..=scale_max as i64)
        .filter(|value| scale_max - scale_min <= 7.0 || value % 2 == 0)
        .map(|value| Tick {
            position: y_of(value as f64),
            label: value.to_string(),
            anchor: "end",
        })
        .collect()
}

/// The round axis: a few evenly spaced labels, always the latest round's.
fn x_labels(points: &[ChartPoint], geometry: Geometry) -> Vec<Tick> {
    let (count, step) = (geometry.count, geometry.step);
    let x_of = |index: usize| geometry.x_of(index);
    let every = count.div_ceil(MAX_X_LABELS).max(1);
    let mut labelled: Vec<usize> = (0..count).step_by(every).collect();
    if let Some(&last_labelled) = labelled.last()
        && last_labelled + 1 != count
    {
        // The latest round is always labelled; a regular label too close to it goes
        // (labels are about 55 units wide, the latest one ends at its point).
        if (count - 1 - last_labelled) as f64 * step < 90.0 {
            labelled.pop();
        }
        labelled.push(count - 1);
    }
    labelled
        .into_iter()
        .map(|index| Tick {
            position: x_of(index),
            label: points[index].tick.clone(),
            anchor: if index + 1 == count && count > 1 {
                "end"
            } else {
                "middle"
            },
        })
        .collect()
}

/// The caption under a chart: only what this chart draws.
fn caption(
    lines: &[String],
    dots: &[Dot],
    intervals: &[IntervalBar],
    hidden: &[HiddenColumn],
    any_rounded: bool,
    any_marker: bool,
    t: Text,
) -> String {
    let marker = t.tr(
        "Dashed line with a flag: an action committed to after that pulse (see the action plan).",
    );
    if lines.is_empty() && dots.len() == 1 && intervals.len() == 1 {
        let single = t.tr("One released pulse so far: the dot is its mean, the bar its 95% interval. A line with its band appears from the second released pulse on.");
        return if any_marker {
            format!("{single} {marker}")
        } else {
            single.to_owned()
        };
    }
    let mut parts = Vec::new();
    if !lines.is_empty() {
        parts.push(t.tr("Mean per pulse (line) with its 95% interval (shaded)."));
    }
    if !intervals.is_empty() {
        parts.push(t.tr("A dot with a bar: a released pulse without released neighbours, with its 95% interval."));
    }
    if !hidden.is_empty() {
        parts.push(t.tr("Grey columns: pulses hidden to protect anonymity."));
    }
    if any_rounded {
        parts.push(t.tr("A dot without line or bar: a pulse shown rounded to protect anonymity."));
    }
    if parts.is_empty() {
        parts.push(t.tr("Mean per pulse."));
    }
    if any_marker {
        parts.push(marker);
    }
    parts.join(" ")
}

/// Coordinates to a tenth of a unit: finer than any screen shows, and short markup.
fn tenths(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// "5.3 (95% interval 4.9–5.7)", or just the mean without a band.
pub fn figure_text(mean: f64, band: Option<(f64, f64)>, t: Text) -> String {
    match band {
        Some((low, high)) => t.tr2(
            "{} (95% interval {})",
            t.decimal(mean),
            format!("{}–{}", t.decimal(low), t.decimal(high)),
        ),
        None => t.decimal(mean),
    }
}

/// The chart in words, for screen readers and for anyone who prefers text.
fn describe(
    dimension_label: &str,
    points: &[ChartPoint],
    scale_min: f64,
    scale_max: f64,
    t: Text,
) -> String {
    let mut text = format!(
        "{dimension_label}: {}, {}",
        t.tr2(
            "mean per round on a scale from {} to {}",
            scale_min,
            scale_max
        ),
        if points.len() == 1 {
            t.tr("1 round").to_owned()
        } else {
            t.tr1("{} rounds", points.len())
        }
    );
    if let (Some(first), Some(last)) = (points.first(), points.last())
        && points.len() > 1
    {
        text.push(' ');
        text.push_str(&t.tr2("from {} to {}", &first.label, &last.label));
    }
    text.push('.');
    push_released(&mut text, points, t);
    let hidden: Vec<&str> = points
        .iter()
        .filter(|point| point.value == PointValue::Hidden)
        .map(|point| point.label.as_str())
        .collect();
    if !hidden.is_empty() {
        text.push(' ');
        text.push_str(&t.tr1("Hidden to protect anonymity: {}.", hidden.join(", ")));
    }
    let rounded: Vec<String> = points
        .iter()
        .filter_map(|point| match point.value {
            PointValue::Rounded { mean } => {
                Some(t.tr1("about {}", t.tr2("{} in {}", t.decimal(mean), &point.label)))
            }
            _ => None,
        })
        .collect();
    if !rounded.is_empty() {
        text.push(' ');
        text.push_str(&t.tr1("Rounded to protect anonymity: {}.", rounded.join(", ")));
    }
    for point in points.iter().filter(|point| !point.commitments.is_empty()) {
        text.push(' ');
        text.push_str(&t.tr2(
            "Committed to after {}: {}.",
            &point.label,
            point.commitments.join("; "),
        ));
    }
    text
}

/// The released rounds in words: first, latest, lowest and highest.
fn push_released(text: &mut String, points: &[ChartPoint], t: Text) {
    let released: Vec<(&str, f64)> = points
        .iter()
        .filter_map(|point| match point.value {
            PointValue::Figure { mean, .. } => Some((point.label.as_str(), mean)),
            _ => None,
        })
        .collect();
    if let (Some(first), Some(last)) = (released.first(), released.last()) {
        let lowest = released
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("not empty");
        let highest = released
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("not empty");
        let at = |(label, mean): &(&str, f64)| t.tr2("{} in {}", t.decimal(*mean), label);
        text.push_str(&format!(
            " {}: {}, {}; {}, {}.",
            if released.len() == 1 {
                t.tr("Released in 1 round").to_owned()
            } else {
                t.tr1("Released in {} rounds", released.len())
            },
            at(first),
            at(last),
            t.tr1("lowest {}", at(lowest)),
            t.tr1("highest {}", at(highest)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use safepulse_domain::Locale;

    use super::*;

    const ENGLISH: Text = Text::new(Locale::En);

    fn figure(label: &str, mean: f64) -> ChartPoint {
        ChartPoint {
            label: label.to_owned(),
            tick: label.to_owned(),
            value: PointValue::Figure {
                mean,
                band: Some((mean - 0.5, mean + 0.5)),
            },
            commitments: Vec::new(),
        }
    }

    fn hidden(label: &str) -> ChartPoint {
        ChartPoint {
            label: label.to_owned(),
            tick: label.to_owned(),
            value: PointValue::Hidden,
            commitments: Vec::new(),
        }
    }

    #[test]
    fn a_hidden_round_breaks_line_and_band_and_gets_a_column() {
        let points = [
            figure("R1", 5.0),
            figure("R2", 5.5),
            hidden("R3"),
            figure("R4", 4.0),
            figure("R5", 4.5),
        ];
        let chart = trend_chart("Trust", &points, 1.0, 7.0, ENGLISH);
        assert_eq!(chart.lines.len(), 2, "no line bridges the hidden round");
        assert_eq!(chart.bands.len(), 2);
        assert_eq!(chart.dots.len(), 4);
        assert_eq!(chart.hidden.len(), 1);
        assert_eq!(chart.hidden[0].title, "R3: hidden to protect anonymity");
        assert!(
            chart
                .description
                .contains("Hidden to protect anonymity: R3.")
        );
        assert!(
            chart
                .description
                .contains("lowest 4.0 in R4, highest 5.5 in R2")
        );
    }

    #[test]
    fn a_rounded_round_is_a_lone_dot_that_says_so() {
        let points = [
            figure("R1", 5.0),
            figure("R2", 5.5),
            ChartPoint {
                label: "R3".to_owned(),
                tick: "R3".to_owned(),
                value: PointValue::Rounded { mean: 5.0 },
                commitments: Vec::new(),
            },
            figure("R4", 4.0),
        ];
        let chart = trend_chart("Trust", &points, 1.0, 7.0, ENGLISH);
        assert_eq!(chart.lines.len(), 1, "only R1–R2 are joined");
        assert_eq!(chart.dots.len(), 4);
        assert!(chart.hidden.is_empty());
        assert_eq!(
            chart.dots[2].title,
            "R3: about 5.0 (rounded to protect anonymity)"
        );
        assert!(
            chart
                .description
                .contains("Rounded to protect anonymity: about 5.0 in R3.")
        );
        assert!(
            chart.description.contains("Released in 3 rounds"),
            "a rounded mean is not counted as released: {}",
            chart.description
        );
    }

    #[test]
    fn higher_means_are_drawn_higher_and_bands_stay_inside_the_scale() {
        let points = [figure("A", 2.0), figure("B", 6.8)];
        let chart = trend_chart("Trust", &points, 1.0, 7.0, ENGLISH);
        assert!(chart.dots[1].y < chart.dots[0].y);
        for corner in chart.bands[0].split(' ') {
            let y: f64 = corner.split(',').nth(1).unwrap().parse().unwrap();
            assert!((PLOT_TOP..=PLOT_BOTTOM).contains(&y), "{corner}");
        }
    }

    #[test]
    fn a_single_released_round_is_a_dot_with_its_interval_and_a_caption_that_says_so() {
        let chart = trend_chart("Trust", &[figure("A", 4.0)], 1.0, 7.0, ENGLISH);
        assert!(chart.lines.is_empty() && chart.bands.is_empty());
        assert_eq!(chart.dots.len(), 1);
        assert_eq!(chart.intervals.len(), 1);
        let bar = chart.intervals[0];
        assert!(
            bar.top < chart.dots[0].y && chart.dots[0].y < bar.bottom,
            "{bar:?}"
        );
        assert!(
            chart.caption.starts_with("One released pulse so far"),
            "{}",
            chart.caption
        );
        assert!(!chart.caption.contains("(line)"), "no line is promised");
        assert_eq!(chart.y_ticks.len(), 7);
    }

    #[test]
    fn a_released_round_between_hidden_ones_gets_a_bar_and_the_caption_names_what_is_drawn() {
        let points = [
            figure("R1", 5.0),
            figure("R2", 5.5),
            hidden("R3"),
            figure("R4", 4.0),
            hidden("R5"),
        ];
        let chart = trend_chart("Trust", &points, 1.0, 7.0, ENGLISH);
        assert_eq!(chart.lines.len(), 1);
        assert_eq!(chart.intervals.len(), 1, "R4 stands alone");
        assert!(chart.caption.contains("(line)") && chart.caption.contains("Grey columns"));
        assert!(!chart.caption.contains("rounded"), "{}", chart.caption);
    }

    #[test]
    fn a_commitment_is_a_marker_after_its_pulse_named_in_caption_and_description() {
        let mut points = [figure("R1", 4.0), figure("R2", 4.2), figure("R3", 5.0)];
        points[1].commitments = vec!["Weekly 1:1s".to_owned()];
        let chart = trend_chart("Trust", &points, 1.0, 7.0, ENGLISH);
        assert_eq!(chart.markers.len(), 1);
        let marker = &chart.markers[0];
        assert!(
            chart.dots[1].x < marker.x && marker.x < chart.dots[2].x,
            "between the pulse and the next: {marker:?}"
        );
        assert_eq!(marker.title, "Committed to after R2: Weekly 1:1s.");
        assert!(chart.caption.contains("Dashed line with a flag"));
        assert!(
            chart
                .description
                .contains("Committed to after R2: Weekly 1:1s.")
        );
        let latest = trend_chart(
            "Trust",
            &[figure("R1", 4.0)].map(|mut point| {
                point.commitments = vec!["Retro".to_owned()];
                point
            }),
            1.0,
            7.0,
            ENGLISH,
        );
        assert!(latest.markers[0].x <= PLOT_RIGHT, "{:?}", latest.markers);
        assert!(latest.caption.starts_with("One released pulse so far"));
        assert!(latest.caption.contains("Dashed line"));
        assert!(
            trend_chart("Trust", &[figure("R1", 4.0)], 1.0, 7.0, ENGLISH)
                .markers
                .is_empty()
        );
    }

    #[test]
    fn long_histories_label_few_rounds_but_always_the_last() {
        let points: Vec<ChartPoint> = (1..=12).map(|n| figure(&format!("R{n}"), 4.0)).collect();
        let chart = trend_chart("Trust", &points, 1.0, 7.0, ENGLISH);
        assert!(
            chart.x_labels.len() <= MAX_X_LABELS + 1,
            "{:?}",
            chart.x_labels
        );
        assert_eq!(chart.x_labels.last().unwrap().label, "R12");
        assert_eq!(chart.x_labels[0].label, "R1");
    }
}
