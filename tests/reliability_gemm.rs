//! faer's x86 GEMM backend reserves a per-thread packing buffer on first use with an infallible
//! allocation (an abort under RLIMIT_AS, issue #20). `ntk::linalg::symmetric::gemm_workspace_bytes`
//! reproduces its size so that the library can reserve it fallibly first; this checks the
//! estimate against the address space the backend really maps on a fresh thread (VmSize from
//! /proc/self/status, Linux). One test in its own binary, so no other test allocates meanwhile.

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn gemm_workspace_estimate_matches_the_backend() {
    if !(std::arch::is_x86_feature_detected!("avx512f")
        || (std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")))
    {
        eprintln!("no AVX2/AVX-512: faer does not use private-gemm-x86 here");
        return;
    }
    fn vm_size() -> usize {
        let s = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = s.lines().find(|l| l.starts_with("VmSize:")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<usize>()
            .unwrap()
            * 1024
    }
    let estimate = ntk::linalg::symmetric::gemm_workspace_bytes();
    let delta = std::thread::spawn(|| {
        let a: faer::Mat<f64> = faer::Mat::zeros(17, 17);
        let mut c: faer::Mat<f64> = faer::Mat::zeros(17, 17);
        let before = vm_size();
        // 17^3 > 16^3: past faer's nano-gemm threshold, so private-gemm-x86 runs and maps its
        // thread-local buffer now.
        faer::linalg::matmul::matmul(
            c.as_mut(),
            faer::Accum::Replace,
            a.as_ref(),
            a.as_ref(),
            1.0,
            faer::Par::Seq,
        );
        vm_size() - before
    })
    .join()
    .unwrap();
    eprintln!("estimate {estimate} bytes, the backend mapped {delta} bytes");
    // mmap rounds to pages and glibc adds a header page: within 1 MiB either way.
    assert!(
        estimate + (1 << 20) >= delta && delta + (1 << 20) >= estimate,
        "estimate {estimate} vs mapped {delta}"
    );
}
