//! The probe behind "Why W2 was bimodal" in docs/performance.md (2026-11-29, third
//! session): a throwaway program, kept for whoever measures the placement again.
//! Build it as its own Cargo project beside the workspace, with
//! `strata = { path = ".../crates/strata" }`, `strata-suite = { path = "..." }`,
//! `rayon = "1"` and `libc = "0.2"`, then:
//! `LONG=1 RAYON_NUM_THREADS=2 target/release/probe 64 1` (batch 64, one model, 400
//! epochs, a line every 10), or `probe 64 3` for three models of 30 epochs.
//! Not part of the build; not tested.

use strata::data::{CsvOptions, Dataset, Normalizer, first_n_split, load_csv};
use strata::prelude::*;
use strata_suite::data_file;
use std::time::Instant;
const CHAINS: usize = 384;
const ROUNDS: usize = 1 << 20;
strata::tensor::simd_kernel! {
    fn fma_chains(seed: f32, x: f32, y: f32) -> f32 {
        let mut acc = [seed; CHAINS];
        for (i, a) in acc.iter_mut().enumerate() { *a += i as f32 * 1e-3; }
        for _ in 0..ROUNDS { for a in acc.iter_mut() { *a = a.mul_add(x, y); } }
        acc.iter().sum()
    }
}
fn fma_rates() -> (f64, f64) {
    let fl = (2 * CHAINS * ROUNDS) as f64;
    let t = Instant::now();
    std::hint::black_box(fma_chains(std::hint::black_box(1.0), 0.999, 1e-3));
    let one = fl / t.elapsed().as_secs_f64() / 1e9;
    let t = Instant::now();
    let v: Vec<f32> = rayon::broadcast(|c| fma_chains(std::hint::black_box(c.index() as f32), 0.999, 1e-3));
    std::hint::black_box(v);
    let two = 2.0 * fl / t.elapsed().as_secs_f64() / 1e9;
    (one, two)
}
fn wake_latency() -> (f64, f64) {
    // Median time from posting a job until the other worker starts it, after the pool idled 2 ms (asleep) / 20 us.
    let mut out = vec![];
    for gap in [2000u64, 20] {
        let mut v = vec![];
        for _ in 0..60 {
            let t0 = std::time::Instant::now();
            while t0.elapsed().as_micros() < gap as u128 {}
            let start = Instant::now();
            let (_, d) = rayon::join(|| { let t=Instant::now(); while t.elapsed().as_micros() < 400 {} }, || start.elapsed().as_secs_f64());
            v.push(d * 1e6);
        }
        v.sort_by(|a,b| a.partial_cmp(b).unwrap());
        out.push(v[30]);
    }
    (out[0], out[1])
}
fn mem_rates(buf: &mut [f32]) -> Vec<f64> {
    let mut out = vec![];
    for size in [64 << 10, 4 << 20, 64 << 20] {
        let n = size / 4;
        let b = &mut buf[..n];
        let reps = (256 << 20) / size;
        let t = Instant::now();
        for r in 0..reps { for x in b.iter_mut() { *x = *x * 0.999 + r as f32; } }
        std::hint::black_box(&b);
        out.push((size * reps * 2) as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    out
}
fn per_thread() -> String {
    let mut out = String::new();
    for _ in 0..4 {
        let v: Vec<(i32, f64)> = rayon::broadcast(|c| { let t = Instant::now(); std::hint::black_box(fma_chains(std::hint::black_box(c.index() as f32), 0.999, 1e-3)); (unsafe { libc::sched_getcpu() }, t.elapsed().as_secs_f64()*1e3) });
        out += &format!("[cpu{} {:.1}ms cpu{} {:.1}ms] ", v[0].0, v[0].1, v[1].0, v[1].1);
    }
    out
}
fn ping_pong() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    let flag = AtomicU64::new(0);
    let n = 20000u64;
    let t = Instant::now();
    rayon::join(|| { for i in 0..n { while flag.load(Ordering::Acquire) != 2*i {} flag.store(2*i+1, Ordering::Release); } },
                || { for i in 0..n { while flag.load(Ordering::Acquire) != 2*i+1 {} flag.store(2*i+2, Ordering::Release); } });
    t.elapsed().as_secs_f64() / n as f64 * 1e9
}
fn main() {
    let mut membuf = vec![1f32; 16 << 20];
    let bs: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(64);
    let models: usize = std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(4);
    let ds = load_csv(data_file("mnist_5k.csv.gz"), &CsvOptions::default()).unwrap();
    let (mut train, _) = first_n_split(&ds, 4000).unwrap();
    Normalizer::Scale { factor: 1.0 / 255.0 }.transform(train.features_mut()).unwrap();
    for m in 0..models {
        let spec = presets::mlp(&[784, 256, 128, 10], ActivationKind::Relu, 0.0).unwrap();
        let mut model = Registry::with_builtins().build(&spec, &mut StrataRng::seed_from_u64(0)).unwrap();
        let config = FitConfig { batch_size: bs, progress: Progress::Silent, ..FitConfig::default() };
        let adam = OptimizerConfig::from_name("adam", 1e-3).unwrap();
        let mut trainer = Trainer::new(config, LossKind::CrossEntropy, adam).unwrap();
        let order: Vec<usize> = (0..train.len()).collect();
        let batches: Vec<(Tensor, Tensor)> = order.chunks(bs).map(|idx| {
            let (mut x, mut y) = (Tensor::default(), Tensor::default());
            train.fill_batch(idx, &mut x, &mut y).unwrap(); (x, y) }).collect();
        let mut times = vec![];
        let long = std::env::var("LONG").is_ok();
        for e in 0..(if long {400} else {30}) {
            let t = Instant::now();
            rayon::scope(|_| { for (x, y) in &batches { trainer.train_step(model.as_mut(), x, y).unwrap(); } });
            times.push(t.elapsed().as_secs_f64());
            if long && e % 10 == 9 {
                let cpus: Vec<i32> = rayon::broadcast(|_| unsafe { libc::sched_getcpu() });
                let last: f64 = times[times.len()-10..].iter().sum::<f64>() / 10.0;
                let (one, two) = (0.0, 0.0); let pp = rayon::scope(|_| ping_pong()); println!("   pingpong {:.0} ns placement {:?} rt {:?}", pp, strata::tensor::par::placement(), strata::tensor::par::last_round_trip());
                let (w_sleep, w_short) = rayon::scope(|_| wake_latency());
                
                println!("   wake after 2ms idle {:.1} us, after 20us {:.1} us", w_sleep, w_short);
                println!("epoch {e}: {:.0} samples/s cpus {:?} fma 1 thread {:.0} 2 threads {:.0} GFLOP/s", 4000.0/last, cpus, one, two);
            }
        }
        let mut s = times.clone(); s.sort_by(|a,b| a.partial_cmp(b).unwrap());
        let med = s[s.len()/2]; let n=s.len()-1;
        println!("model {m}: median {:.0} samples/s  min {:.0} max {:.0}", 4000.0/med, 4000.0/s[n], 4000.0/s[0]);
    }
}
