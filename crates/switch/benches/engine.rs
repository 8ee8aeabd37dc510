//! Completion engine benchmarks (DESIGN §6: requests accepted and recalls fired per second,
//! memory per request, restart reload).
//!
//! Groups:
//! - `accept`: `Switch::complete_call` (callback) on 1,000 busy calls, 10 per callee; only the
//!   accepting is timed, the calls are set up outside the measurement.
//! - `recall`: 100 callees, each with 10 waiting callbacks, hang up their calls; then one timer
//!   tick after the guard selects one request per callee and emits its `Recall` action. Timed:
//!   the 100 hang-ups and the tick; one element = one recall.
//! - `reload`: `Switch::import_completions` of 10,000 exported requests into a fresh switch,
//!   then the first timer tick (which settles them).
//! - memory: printed once, not timed. 100,000 outstanding requests (1,000 callers × 100,
//!   10,000 callees × 10); the figure is the growth of the process's resident set
//!   (`/proc/self/statm`) divided by the number of requests, so it includes every table and
//!   the allocator's overhead. A counting global allocator would be exact but needs `unsafe`,
//!   which the workspace forbids; `size_of::<CompletionRequest>()` plus the two names is
//!   printed beside it as the lower bound.
//! - `snapshot`: one `Switch::clone`, the copy the server core publishes for its API after
//!   each batch that changed the switch: 200 lines with 500 busy calls, and the `recall`
//!   group's switch (1,100 lines, 100 connected calls, 1,000 waiting callbacks).
//!
//! Run with `cargo bench -p callcomp-switch --bench engine`; `docs/benchmarks.md` has the
//! figures and the machine.

use std::hint::black_box;
use std::time::Duration;

use callcomp_switch::{
    CallId, CallRef, CallerLeg, CompletionConfig, CompletionRequest, Fact, Failure, Line, Party,
    Side, Snapshot, Switch, SwitchConfig, Time,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const CALLBACK: u32 = 0x2;

fn line(prefix: &str, i: usize) -> String {
    format!("{prefix}{i}")
}

fn address(name: &str) -> String {
    format!("sip:{name}@example.com")
}

/// A switch with `callers` lines `c0…` and `callees` lines `e0…`, limits out of the way.
fn switch(callers: usize, callees: usize) -> Switch {
    let config = CompletionConfig {
        max_call_completions: 1_000,
        max_queue: 1_000,
        ..CompletionConfig::default()
    };
    let mut sw = Switch::with_completion(SwitchConfig::default(), config);
    for name in (0..callers)
        .map(|i| line("c", i))
        .chain((0..callees).map(|i| line("e", i)))
    {
        let a = address(&name);
        let _ = sw.add_line(Line::new(name, a));
    }
    sw
}

/// `n` busy calls (caller leg released), caller `i % callers` to callee `i % callees`.
fn busy_calls(
    sw: &mut Switch,
    n: usize,
    callers: usize,
    callees: usize,
    first_ref: u64,
) -> Vec<CallId> {
    let now = Time::ZERO;
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let call = CallRef(first_ref + i as u64);
        let from = line("c", i % callers);
        let to = address(&line("e", i % callees));
        let ev = sw
            .handle(
                Fact::Dialed {
                    call,
                    from: Party::Line(from),
                    to,
                },
                now,
            )
            .unwrap_or_default();
        if let Some(id) = ev.first().and_then(|e| e.kind.call_id()) {
            ids.push(id);
        }
        let _ = sw.handle(
            Fact::Failed {
                call,
                cause: Failure::Busy,
                caller_leg: CallerLeg::Released,
            },
            now,
        );
    }
    ids
}

fn accept(c: &mut Criterion) {
    let mut group = c.benchmark_group("accept");
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("callback_1000", |b| {
        b.iter_batched(
            || {
                let mut sw = switch(1_000, 100);
                let ids = busy_calls(&mut sw, 1_000, 1_000, 100, 1);
                (sw, ids)
            },
            |(mut sw, ids)| {
                for id in ids {
                    let r = sw.complete_call(None, id.get(), CALLBACK, 0, Time::from_millis(10));
                    black_box(r.is_ok());
                }
                sw
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// 100 callees in calls with partners `p…`, 10 callbacks waiting on each.
fn recall_setup() -> (Switch, Vec<CallRef>) {
    let mut sw = switch(1_000, 100);
    let mut talks = Vec::new();
    for i in 0..100 {
        let partner = line("p", i);
        let _ = sw.add_line(Line::new(partner.clone(), address(&partner)));
        let call = CallRef(1_000_000 + i as u64);
        let _ = sw.handle(
            Fact::Dialed {
                call,
                from: Party::Line(partner),
                to: address(&line("e", i)),
            },
            Time::ZERO,
        );
        let _ = sw.handle(Fact::offered(call, line("e", i)), Time::ZERO);
        let _ = sw.handle(Fact::Answered { call }, Time::ZERO);
        talks.push(call);
    }
    for id in busy_calls(&mut sw, 1_000, 1_000, 100, 1) {
        let _ = sw.complete_call(None, id.get(), CALLBACK, 0, Time::from_millis(1));
    }
    (sw, talks)
}

fn recall(c: &mut Criterion) {
    let mut group = c.benchmark_group("recall");
    group.throughput(Throughput::Elements(100));
    group.bench_function("select_100", |b| {
        b.iter_batched(
            recall_setup,
            |(mut sw, talks)| {
                let t1 = Time::from_millis(10_000);
                for call in talks {
                    let _ = sw.handle(
                        Fact::Hangup {
                            call,
                            by: Side::Callee,
                        },
                        t1,
                    );
                }
                let _ = sw.on_timer(t1 + Duration::from_millis(1_500));
                let actions = sw.poll_actions();
                assert_eq!(actions.len(), 100);
                sw
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn reload(c: &mut Criterion) {
    let mut sw = switch(100, 1_000);
    for id in busy_calls(&mut sw, 10_000, 100, 1_000, 1) {
        let _ = sw.complete_call(None, id.get(), CALLBACK, 0, Time::from_millis(1));
    }
    let snapshot: Snapshot = sw.export_completions();
    assert_eq!(snapshot.requests.len(), 10_000);
    let mut group = c.benchmark_group("reload");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("import_10000", |b| {
        b.iter_batched(
            || (switch(100, 1_000), snapshot.clone()),
            |(mut fresh, snap)| {
                let _ = fresh.import_completions(snap, Time::from_millis(5));
                black_box(fresh.on_timer(Time::from_millis(5)).len());
                fresh
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4_096)
}

fn memory(c: &mut Criterion) {
    const N: usize = 100_000;
    let mut sw = switch(1_000, 10_000);
    // Warm the allocator and the switch's call tables with calls that end, so their memory
    // is not counted against the requests.
    for id in busy_calls(&mut sw, 1_000, 1_000, 10_000, 10_000_000) {
        let _ = sw.drop_call(id, Time::ZERO);
    }
    let before = resident_bytes();
    let mut accepted = 0usize;
    // In chunks, so the transient calls of one chunk are gone before the next.
    for chunk in 0..(N / 10_000) {
        let first = 1 + (chunk * 10_000) as u64;
        let ids = busy_calls(&mut sw, 10_000, 1_000, 10_000, first);
        for id in ids {
            if sw
                .complete_call(None, id.get(), CALLBACK, 0, Time::from_millis(1))
                .is_ok()
            {
                accepted += 1;
            }
        }
    }
    let after = resident_bytes();
    let names: usize = sw
        .export_completions()
        .requests
        .iter()
        .map(|r| r.speaking_line().len() + r.target.key().len())
        .sum();
    let lower = std::mem::size_of::<CompletionRequest>() + names / accepted.max(1);
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "memory: {accepted} requests, resident set +{} bytes = {} bytes per request \
             (lower bound size_of + names: {lower} bytes)",
            a.saturating_sub(b),
            a.saturating_sub(b) / accepted.max(1) as u64
        );
    } else {
        println!("memory: /proc/self/statm unavailable; lower bound {lower} bytes per request");
    }
    // Criterion wants at least one measured function per group; time a cheap query.
    c.bench_function("memory/position_query", |b| {
        b.iter(|| black_box(sw.completions_for("e0").len()))
    });
}

/// The copy of the switch the server core publishes for its API after a batch that changed
/// it (`callcomp::core::snapshot`): one `Switch::clone`.
fn snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot");
    let mut busy = switch(100, 100);
    busy_calls(&mut busy, 500, 100, 100, 1);
    group.bench_function("clone_200_lines_500_calls", |b| {
        b.iter(|| black_box(busy.clone()))
    });
    let (waiting, _) = recall_setup();
    group.bench_function("clone_1100_lines_100_calls_1000_requests", |b| {
        b.iter(|| black_box(waiting.clone()))
    });
    group.finish();
}

criterion_group!(benches, accept, recall, reload, memory, snapshot);
criterion_main!(benches);
