//! The status board: one self-contained HTML file (inline CSS, inline SVG
//! drawn here, no script, no font, no image, nothing fetched), so it opens
//! offline and can be kept as a CI artifact.
//!
//! Every string that comes from a ledger (actors, reasons, environment
//! names) is HTML-escaped; bundle values are never shown, only bundle ids.

#![allow(
    clippy::cast_precision_loss,
    reason = "drawing: counts and spans of seconds are far below 2^52"
)]

use std::fmt::Write as _;

use super::{Band, MarkKind, Metrics, Seconds, human_duration, parse_time, plural};

const WIDTH: f64 = 720.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#1d2330;background:#f6f7f9}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#5b6475;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-top:16px}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:12px 16px;min-width:200px;flex:1}
.card .name{font-size:12px;color:#5b6475;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:22px;font-weight:600;margin:6px 0}
.band{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600;color:#fff}
.band-elite{background:#1a7f37}.band-high{background:#2f81f7}.band-medium{background:#bf8700}.band-low{background:#cf222e}.band-none{background:#8c959f}
table{border-collapse:collapse;background:#fff;border:1px solid #dde1e8}
th,td{padding:6px 12px;text-align:left;font-size:13px;border-bottom:1px solid #eef0f3}
th{background:#f0f2f5}
code{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:12px}
svg{background:#fff;border:1px solid #dde1e8;border-radius:6px;display:block;margin:6px 0}
svg text{font-family:system-ui,sans-serif;font-size:11px;fill:#5b6475}
.plots{display:flex;flex-wrap:wrap;gap:16px}
.plot h3{font-size:14px;margin:8px 0 0}
";

/// The board for these measures.
pub fn render(metrics: &Metrics) -> String {
    let since = parse_time(&metrics.since).unwrap_or_default();
    let now = parse_time(&metrics.now).unwrap_or(since + 1);
    let mut html = String::new();
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // Nothing may be fetched: no scripts, styles, fonts or images from
    // anywhere, not even this file's own directory.
    html.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">\n",
    );
    let _ = writeln!(
        html,
        "<title>Windlass deploy status: {}</title>",
        escape(&metrics.production)
    );
    let _ = writeln!(html, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(html, "<h1>Deploy status</h1>");
    let _ = writeln!(
        html,
        "<div class=\"sub\">DORA measures for <b>{}</b> from {} to {}</div>",
        escape(&metrics.production),
        escape(&metrics.since),
        escape(&metrics.now)
    );

    cards(&mut html, metrics);
    environments(&mut html, metrics);
    timelines(&mut html, metrics, since, now);
    plots(&mut html, metrics, since, now);
    failures(&mut html, metrics, since, now);

    html.push_str("</body>\n</html>\n");
    html
}

fn band_badge(band: Option<Band>) -> String {
    match band {
        Some(band) => format!("<span class=\"band band-{0}\">{0}</span>", band.as_str()),
        None => "<span class=\"band band-none\">no data</span>".to_owned(),
    }
}

fn card(html: &mut String, name: &str, value: &str, detail: &str, band: Option<Band>) {
    let _ = writeln!(
        html,
        "<div class=\"card\"><div class=\"name\">{name}</div><div class=\"value\">{value}</div>\
         <div>{} <span class=\"sub\">{detail}</span></div></div>",
        band_badge(band)
    );
}

fn maybe(seconds: Option<Seconds>) -> String {
    seconds.map_or_else(|| "-".to_owned(), human_duration)
}

fn cards(html: &mut String, m: &Metrics) {
    html.push_str("<div class=\"cards\">\n");
    let df = &m.deployment_frequency;
    card(
        html,
        "Deployment frequency",
        &format!("{:.2} / week", df.per_week),
        &format!(
            "{}, {:.2} / day",
            plural(df.deployments, "deploy"),
            df.per_day
        ),
        Some(df.band),
    );
    let lt = &m.lead_time;
    card(
        html,
        "Lead time for changes",
        &format!("{} median", maybe(lt.median_seconds)),
        &format!(
            "p90 {}, {}{}",
            maybe(lt.p90_seconds),
            plural(lt.samples.len() as u64, "deploy"),
            match lt.unknown_commit + lt.without_commit {
                0 => String::new(),
                n => format!(", {n} without a known commit"),
            }
        ),
        lt.band,
    );
    let cfr = &m.change_failure_rate;
    card(
        html,
        "Change failure rate",
        &cfr.rate
            .map_or_else(|| "-".to_owned(), |r| format!("{:.0}%", r * 100.0)),
        &format!("{} of {} deploys failed", cfr.failed, cfr.deployments),
        cfr.band,
    );
    let ttr = &m.time_to_restore;
    card(
        html,
        "Time to restore",
        &format!("{} median", maybe(ttr.median_seconds)),
        &match &ttr.unrestored_since {
            Some(since) => format!(
                "{}; failing since {}",
                plural(ttr.restores.len() as u64, "restore"),
                escape(since)
            ),
            None => plural(ttr.restores.len() as u64, "restore"),
        },
        ttr.band,
    );
    html.push_str("</div>\n");
}

fn environments(html: &mut String, m: &Metrics) {
    html.push_str(
        "<h2>Environments</h2>\n<table>\n<tr><th>Environment</th><th>Bundle</th>\
                   <th>Revision</th><th>Since</th><th>By</th><th>State</th></tr>\n",
    );
    for env in &m.environments {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&env.name),
            escape(env.bundle.as_ref().map_or("-", |b| b.short())),
            env.revision
                .map_or_else(|| "-".to_owned(), |r| r.to_string()),
            escape(env.since.as_deref().unwrap_or("-")),
            escape(env.actor.as_deref().unwrap_or("-")),
            match env.unfinished {
                Some(seq) => format!("promotion {seq} unfinished"),
                None => "settled".to_owned(),
            }
        );
    }
    html.push_str("</table>\n");
}

/// The x of a time on an axis from `since` to `now`.
fn x_of(at: Seconds, since: Seconds, now: Seconds) -> f64 {
    let span = (now - since).max(1) as f64;
    LEFT + (WIDTH - LEFT - RIGHT) * ((at - since) as f64 / span).clamp(0.0, 1.0)
}

fn time_axis(html: &mut String, since: Seconds, now: Seconds, y: f64) {
    let _ = writeln!(
        html,
        "<line x1=\"{LEFT}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#8c959f\"/>",
        WIDTH - RIGHT
    );
    for i in 0..=4 {
        let at = since + (now - since) * i / 4;
        let x = x_of(at, since, now);
        let label = super::rfc3339(at);
        let _ = writeln!(
            html,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{}\">{}</text>",
            y + 14.0,
            if i == 4 { "end" } else { "middle" },
            escape(label.get(..10).unwrap_or(&label))
        );
    }
}

fn timelines(html: &mut String, m: &Metrics, since: Seconds, now: Seconds) {
    html.push_str("<h2>Deployments</h2>\n");
    html.push_str(
        "<div class=\"sub\"><span style=\"color:#1a7f37\">&#9679;</span> succeeded \
         <span style=\"color:#cf222e\">&#9632;</span> failed \
         <span style=\"color:#bf8700\">&#9650;</span> rolled back</div>\n",
    );
    let row = 30.0;
    let height = 24.0 + row * m.environments.len().max(1) as f64 + 20.0;
    let _ = writeln!(
        html,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"deployment timeline\">"
    );
    for (i, env) in m.environments.iter().enumerate() {
        let y = 24.0 + row * i as f64;
        let _ = writeln!(
            html,
            "<text x=\"4\" y=\"{:.1}\">{}</text><line x1=\"{LEFT}\" y1=\"{y}\" x2=\"{}\" \
             y2=\"{y}\" stroke=\"#eef0f3\"/>",
            y + 4.0,
            escape(&env.name),
            WIDTH - RIGHT
        );
        for mark in env.timeline.iter().filter(|m| m.at >= since && m.at <= now) {
            let x = x_of(mark.at, since, now);
            let title = format!(
                "{} {} by {} (promotion {}){}",
                mark.time,
                mark.bundle.short(),
                mark.actor,
                mark.promotion,
                mark.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
            let shape = match mark.kind {
                MarkKind::Succeeded => {
                    format!("<circle cx=\"{x:.1}\" cy=\"{y}\" r=\"6\" fill=\"#1a7f37\">")
                }
                MarkKind::Failed => format!(
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"11\" height=\"11\" fill=\"#cf222e\">",
                    x - 5.5,
                    y - 5.5
                ),
                MarkKind::RolledBack => format!(
                    "<polygon points=\"{x:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"#bf8700\">",
                    y - 7.0,
                    x - 6.5,
                    y + 5.0,
                    x + 6.5,
                    y + 5.0
                ),
            };
            let close = match mark.kind {
                MarkKind::Succeeded => "</circle>",
                MarkKind::Failed => "</rect>",
                MarkKind::RolledBack => "</polygon>",
            };
            let _ = writeln!(html, "{shape}<title>{}</title>{close}", escape(&title));
        }
    }
    time_axis(html, since, now, height - 20.0);
    html.push_str("</svg>\n");
}

const PLOT_W: f64 = 340.0;
const PLOT_H: f64 = 180.0;

fn plot_open(html: &mut String, title: &str) {
    let _ = writeln!(
        html,
        "<div class=\"plot\"><h3>{title}</h3><svg xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{PLOT_W}\" height=\"{PLOT_H}\" viewBox=\"0 0 {PLOT_W} {PLOT_H}\" role=\"img\" \
         aria-label=\"{title}\">"
    );
}

fn plot_close(html: &mut String, caption: &str) {
    let _ = writeln!(html, "</svg><div class=\"sub\">{caption}</div></div>");
}

/// Plot area: x from 40 to PLOT_W-10, y from 14 to PLOT_H-24.
fn py(value: f64, max: f64) -> f64 {
    let top = 14.0;
    let bottom = PLOT_H - 24.0;
    bottom - (bottom - top) * (value / max.max(f64::MIN_POSITIVE)).clamp(0.0, 1.0)
}

fn y_axis(html: &mut String, max: f64, label: &str) {
    let bottom = PLOT_H - 24.0;
    let _ = writeln!(
        html,
        "<line x1=\"40\" y1=\"14\" x2=\"40\" y2=\"{bottom}\" stroke=\"#8c959f\"/>\
         <line x1=\"40\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\" stroke=\"#8c959f\"/>\
         <text x=\"36\" y=\"18\" text-anchor=\"end\">{}</text>\
         <text x=\"36\" y=\"{bottom}\" text-anchor=\"end\">0</text>",
        PLOT_W - 10.0,
        escape(label)
    );
    let _ = max;
}

fn plots(html: &mut String, m: &Metrics, since: Seconds, now: Seconds) {
    html.push_str("<h2>Measures</h2>\n<div class=\"plots\">\n");
    weekly_plot(html, m);
    lead_time_plot(html, m, since, now);
    failure_rate_plot(html, m);
    restore_plot(html, m);
    html.push_str("</div>\n");
}

/// Deploys per week, as bars.
fn weekly_plot(html: &mut String, m: &Metrics) {
    plot_open(html, "Deploys per week");
    let max = m
        .weekly
        .iter()
        .map(|w| w.deployments)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    y_axis(html, max, &format!("{max}"));
    let slot = (PLOT_W - 50.0) / m.weekly.len().max(1) as f64;
    for (i, week) in m.weekly.iter().enumerate() {
        let x = 44.0 + slot * i as f64;
        let y = py(week.deployments as f64, max);
        let _ = writeln!(
            html,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#2f81f7\">\
             <title>week of {}: {} deploys</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            (slot - 6.0).max(1.0),
            PLOT_H - 24.0 - y,
            escape(week.start.get(..10).unwrap_or(&week.start)),
            week.deployments,
            x + slot / 2.0 - 3.0,
            PLOT_H - 10.0,
            escape(week.start.get(5..10).unwrap_or(&week.start)),
        );
    }
    plot_close(
        html,
        &format!(
            "{}, {:.2} per week",
            plural(m.deployment_frequency.deployments, "deploy"),
            m.deployment_frequency.per_week
        ),
    );
}

/// Lead time points with the median line.
fn lead_time_plot(html: &mut String, m: &Metrics, since: Seconds, now: Seconds) {
    plot_open(html, "Lead time for changes");
    let hours: Vec<(Seconds, f64)> = m
        .lead_time
        .samples
        .iter()
        .filter_map(|s| Some((parse_time(&s.deployed)?, s.seconds as f64 / 3600.0)))
        .collect();
    let max = hours.iter().map(|(_, h)| *h).fold(1.0_f64, f64::max);
    y_axis(html, max, &format!("{max:.1}h"));
    let px = |at: Seconds| {
        40.0 + (PLOT_W - 50.0) * ((at - since) as f64 / (now - since).max(1) as f64).clamp(0.0, 1.0)
    };
    for (at, h) in &hours {
        let _ = writeln!(
            html,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#2f81f7\"><title>{h:.2} h</title></circle>",
            px(*at),
            py(*h, max)
        );
    }
    if let Some(median) = m.lead_time.median_seconds {
        let y = py(median as f64 / 3600.0, max);
        let _ = writeln!(
            html,
            "<line x1=\"40\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#cf222e\" \
             stroke-dasharray=\"4 3\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">median</text>",
            PLOT_W - 10.0,
            PLOT_W - 12.0,
            y - 4.0
        );
    }
    plot_close(
        html,
        &format!(
            "median {}, p90 {}",
            maybe(m.lead_time.median_seconds),
            maybe(m.lead_time.p90_seconds)
        ),
    );
}

/// Change failure rate: good and failed deploys as one stacked bar.
fn failure_rate_plot(html: &mut String, m: &Metrics) {
    plot_open(html, "Change failure rate");
    let cfr = &m.change_failure_rate;
    let total = cfr.deployments.max(1) as f64;
    let good_w = (PLOT_W - 60.0) * (cfr.deployments - cfr.failed) as f64 / total;
    let bad_w = (PLOT_W - 60.0) * cfr.failed as f64 / total;
    let _ = writeln!(
        html,
        "<rect x=\"30\" y=\"60\" width=\"{good_w:.1}\" height=\"40\" fill=\"#1a7f37\">\
         <title>{} good</title></rect>\
         <rect x=\"{:.1}\" y=\"60\" width=\"{bad_w:.1}\" height=\"40\" fill=\"#cf222e\">\
         <title>{} failed</title></rect>\
         <rect x=\"30\" y=\"60\" width=\"{}\" height=\"40\" fill=\"none\" stroke=\"#8c959f\"/>\
         <text x=\"30\" y=\"124\">{} good</text>\
         <text x=\"{}\" y=\"124\" text-anchor=\"end\">{} failed</text>",
        cfr.deployments - cfr.failed,
        30.0 + good_w,
        cfr.failed,
        PLOT_W - 60.0,
        cfr.deployments - cfr.failed,
        PLOT_W - 30.0,
        cfr.failed,
    );
    plot_close(
        html,
        &match cfr.rate {
            Some(rate) => format!(
                "{:.0}% of {} deploys failed or were rolled back",
                rate * 100.0,
                cfr.deployments
            ),
            None => "no deploys in the window".to_owned(),
        },
    );
}

/// Time to restore: one bar per outage, with the median line.
fn restore_plot(html: &mut String, m: &Metrics) {
    plot_open(html, "Time to restore");
    let ttr = &m.time_to_restore;
    let max = ttr
        .restores
        .iter()
        .map(|r| r.seconds as f64 / 3600.0)
        .fold(1.0_f64, f64::max);
    y_axis(html, max, &format!("{max:.1}h"));
    let slot = (PLOT_W - 50.0) / ttr.restores.len().max(1) as f64;
    for (i, restore) in ttr.restores.iter().enumerate() {
        let h = restore.seconds as f64 / 3600.0;
        let y = py(h, max);
        let _ = writeln!(
            html,
            "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#bf8700\">\
             <title>failed {}, restored {}: {}</title></rect>",
            44.0 + slot * i as f64,
            (slot - 6.0).clamp(1.0, 40.0),
            PLOT_H - 24.0 - y,
            escape(&restore.failed),
            escape(&restore.restored),
            human_duration(restore.seconds)
        );
    }
    if let Some(median) = ttr.median_seconds {
        let y = py(median as f64 / 3600.0, max);
        let _ = writeln!(
            html,
            "<line x1=\"40\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#cf222e\" \
             stroke-dasharray=\"4 3\"/>",
            PLOT_W - 10.0
        );
    }
    plot_close(
        html,
        &format!(
            "median {} over {}",
            maybe(ttr.median_seconds),
            plural(ttr.restores.len() as u64, "restore")
        ),
    );
}

/// Failures and rollbacks in the window, with who and why (escaped).
fn failures(html: &mut String, m: &Metrics, since: Seconds, now: Seconds) {
    let mut rows: Vec<(&str, &super::Mark)> = m
        .environments
        .iter()
        .flat_map(|env| {
            env.timeline
                .iter()
                .map(move |mark| (env.name.as_str(), mark))
        })
        .filter(|(_, mark)| mark.kind != MarkKind::Succeeded && mark.at >= since && mark.at <= now)
        .collect();
    rows.sort_by_key(|(_, mark)| std::cmp::Reverse(mark.at));
    html.push_str("<h2>Failures and rollbacks</h2>\n");
    if rows.is_empty() {
        html.push_str("<p class=\"sub\">None in the window.</p>\n");
        return;
    }
    html.push_str(
        "<table>\n<tr><th>Time</th><th>Environment</th><th>Bundle</th><th>What</th>\
         <th>By</th><th>Reason</th></tr>\n",
    );
    for (env, mark) in rows {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&mark.time),
            escape(env),
            escape(mark.bundle.short()),
            match mark.kind {
                MarkKind::Failed => "failed",
                _ => "rolled back",
            },
            escape(&mark.actor),
            escape(mark.reason.as_deref().unwrap_or(""))
        );
    }
    html.push_str("</table>\n");
}
