// swift-tools-version: 6.0
import PackageDescription

// Data flow, one module per step:
//   MemguardCore (OCI state, annotations, paths, logs) -> MemguardProbes (kernel programs, maps)
//   -> MemguardMonitor (per-container event reader, teardown) -> MemguardHook (OCI hook stages)
//   -> memguard (CLI). MemguardWrapper (memguard-runc) puts the hooks into opted-in bundles;
//   MemguardSeccomp checks and builds seccomp profiles. MemguardDemo drives real runc containers.
let package = Package(
    name: "memguard",
    products: [
        .executable(name: "memguard", targets: ["memguard"]),
        .executable(name: "memguard-fuzz", targets: ["memguard-fuzz"]),
    ],
    targets: [
        .systemLibrary(name: "CLibBPF", pkgConfig: "libbpf", providers: [.apt(["libbpf-dev", "libelf-dev", "zlib1g-dev"])]),
        .systemLibrary(name: "CJSONC", pkgConfig: "json-c", providers: [.apt(["libjson-c-dev"])]),
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        // The event ABI shared with the kernel programs: bpf/include/memguard_abi.h.
        .target(
            name: "CMemguardABI",
            path: "bpf",
            exclude: ["memguard.bpf.c", "syscalls.h", "build-bpf.sh"],
            sources: ["abi.c"],
            publicHeadersPath: "include"
        ),
        // Thin C shims for what Swift cannot import: varargs callbacks, *_OPTS macros, raw syscalls.
        .target(name: "CShims", dependencies: ["CLibBPF"]),
        .target(name: "MemguardCore", dependencies: ["CJSONC", "CShims"]),
        .target(
            name: "MemguardProbes",
            dependencies: ["MemguardCore", "CLibBPF", "CShims", "CMemguardABI"],
            plugins: ["BPFObjectPlugin"]
        ),
        // Seccomp profiles: OCI/Docker JSON, checked with libseccomp; wx-deny; recorded profiles.
        .target(name: "MemguardSeccomp", dependencies: ["MemguardCore", "CSeccomp"]),
        .target(name: "MemguardMonitor", dependencies: ["MemguardCore", "MemguardProbes", "MemguardSeccomp", "CMemguardABI", "CShims"]),
        // memguard-runc: adds memguard's hooks to opted-in bundles, then execs the real runtime.
        .target(name: "MemguardWrapper", dependencies: ["MemguardCore", "MemguardSeccomp"]),
        .target(name: "MemguardHook", dependencies: ["MemguardCore", "MemguardProbes", "MemguardMonitor", "CMemguardABI"]),
        // The operator's commands: ps, logs, doctor.
        .target(name: "MemguardOperator", dependencies: ["MemguardCore", "MemguardProbes", "MemguardMonitor", "MemguardSeccomp", "CLibBPF", "CMemguardABI", "CShims", "CSeccomp"]),
        .target(name: "MemguardDemo", dependencies: ["MemguardCore", "MemguardProbes", "MemguardMonitor", "CShims"]),
        .executableTarget(name: "memguard", dependencies: ["MemguardCore", "MemguardHook", "MemguardMonitor", "MemguardDemo", "MemguardWrapper", "MemguardSeccomp", "MemguardOperator"]),
        // Fuzzing the parsers of hostile input: fuzz/run.sh builds memguard-fuzz with libFuzzer.
        .target(name: "MemguardFuzzing", dependencies: ["MemguardCore", "MemguardSeccomp"]),
        .executableTarget(name: "memguard-fuzz", dependencies: ["MemguardFuzzing", "MemguardCore"]),
        .plugin(name: "BPFObjectPlugin", capability: .buildTool()),
        .testTarget(name: "MemguardCoreTests", dependencies: ["MemguardCore", "MemguardFuzzing"]),
        .testTarget(name: "MemguardSeccompTests", dependencies: ["MemguardSeccomp", "MemguardWrapper", "MemguardCore"]),
        .testTarget(name: "MemguardProbesTests", dependencies: ["MemguardProbes", "MemguardMonitor", "CMemguardABI", "CLibBPF"]),
        // Root-only: real runc containers, real kernel programs. Fails (never skips) when not root.
        .testTarget(name: "IntegrationTests", dependencies: ["MemguardCore", "MemguardProbes", "MemguardMonitor", "MemguardDemo", "memguard", "CMemguardABI"]),
    ],
    swiftLanguageModes: [.v5]
)
