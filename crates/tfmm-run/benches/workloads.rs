//! The standard workloads (`tfmm bench` runs the same ones): targets on 2 cores are 10 ms for
//! the weight path, 5 ms for the 2-asset zero-fee pool and 40 ms for the 3-asset 30 bp pool.

use criterion::{Criterion, criterion_group, criterion_main};
use tfmm_run::bench::standard;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("one_year");
    group.sample_size(10);
    for workload in standard() {
        let prices = workload.prices();
        group.bench_function(workload.name, |b| b.iter(|| workload.run(&prices)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
