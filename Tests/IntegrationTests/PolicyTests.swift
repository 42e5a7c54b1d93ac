import Glibc
import MemguardCore
import MemguardMonitor
import MemguardProbes
import Testing
@testable import MemguardDemo

extension Integration {
    @Suite("Host policy, actions and memory heuristics on real runc")
    struct Policy {
        @Test("enforce + freeze: the offender is stopped at once and the whole container frozen")
        func freeze() throws {
            let sandbox = try Sandbox()
            let bundle = try sandbox.bundle("freeze", command: ["/mg-attack", "wx-mmap", "sleep", "30"],
                                            annotations: ["io.memguard.monitor": "true", "io.memguard.mode": "enforce", "io.memguard.action": "freeze"])
            #expect(ProcessRunner.wait(try sandbox.start(bundle, detached: true)) == 0)
            let frozen = sandbox.waitFor { sandbox.logLines(bundle.id).contains { $0.contains(#""event":"container-frozen""#) } }
            #expect(frozen, "\(sandbox.logLines(bundle.id))")
            let line = sandbox.logLines(bundle.id).first { $0.contains(#""event":"container-frozen""#) } ?? ""
            #expect(line.contains(#""frozen":true"#) && line.contains("cgroup.freeze"), "\(line)")
            #expect(sandbox.logLines(bundle.id).contains { $0.contains(#""event":"wx-mmap""#) && $0.contains(#""action":"stopped""#) })
            let output = (try? FileSystem.readText("\(sandbox.root)/\(bundle.id).out")) ?? ""
            #expect(output.contains("attempt wx-mmap") && !output.contains("survived"), "\(output)")
            #expect(try sandbox.runc("kill", bundle.id, "KILL") == 0)
            #expect(sandbox.waitFor { (try? sandbox.runc("delete", bundle.id)) == 0 })
            sandbox.expectNothingLeft()
        }

        @Test("failure=closed refuses the start when monitoring cannot be set up; failure=open starts it with a loud warning")
        func failurePolicy() throws {
            let sandbox = try Sandbox()
            let broken = ["MEMGUARD_BTF=\(sandbox.root)/no-vmlinux"]
            let closed = try sandbox.run(sandbox.bundle("closed", command: ["/bin/echo", "ran"], extraEnvironment: broken))
            #expect(closed.exit != 0 && !closed.output.contains("ran\n"))
            #expect(closed.output.contains("kernel BTF not found"), "\(closed.output)")

            try sandbox.hostPolicy(#"{"failure":"open"}"#)
            let open = try sandbox.run(sandbox.bundle("open", command: ["/bin/echo", "ran"], extraEnvironment: broken))
            #expect(open.exit == 0 && open.output.contains("ran\n"), "\(open.output)")
            #expect(open.logText.contains(#""warning":"the container runs UNMONITORED""#), "\(open.logText)")
            // runc shows a hook's stderr only when the hook fails; called directly, it is there.
            let sleeper = try CgroupedSleeper(root: sandbox.root)
            let direct = try sandbox.hook("createRuntime", stdin: sandbox.state(id: "direct", pid: sleeper.pid), environment: broken)
            #expect(direct.exit == 0)
            #expect(direct.output.contains("WARNING") && direct.output.contains("starts UNMONITORED (failure=open)"), "\(direct.output)")
            sandbox.expectNothingLeft()
        }

        @Test("an annotation cannot relax the host policy unless the host allows it")
        func relaxRefused() throws {
            let sandbox = try Sandbox()
            try sandbox.hostPolicy(#"{"mode":"enforce"}"#)
            let run = try sandbox.run(sandbox.bundle("relax", command: ["/bin/echo", "ran"],
                                                     annotations: ["io.memguard.monitor": "true", "io.memguard.mode": "audit"]))
            #expect(run.exit != 0 && !run.output.contains("ran\n"))
            #expect(run.output.contains("would relax the host policy") && run.output.contains("relax.mode"), "\(run.output)")
            sandbox.expectNothingLeft()
        }

        @Test("the allowlist matches the executable's identity, not its name")
        func allowlistByIdentity() throws {
            let sandbox = try Sandbox()
            try sandbox.hostPolicy(#"{"mode":"enforce","allow_wx":["/mg-attack"]}"#)
            let allowed = try sandbox.run(sandbox.bundle("jit", command: ["/mg-attack", "wx-mmap", "exec-anon"], mode: .enforce))
            #expect(allowed.exit == 0 && allowed.output.contains("survived exec-anon"), "\(allowed.output)")
            #expect(allowed.log?.total == 0, "\(allowed.logText)")
            // The same bytes under another name are another file: not allowed.
            let copy = try sandbox.run(sandbox.bundle("copy", command: ["/mg-attack-copy", "wx-mmap"], mode: .enforce))
            #expect(copy.exit == 137, "\(copy.output)")
            #expect(copy.log?.counts == [EventKind.wxMmap: 1])
            sandbox.expectNothingLeft()
        }

        @Test("learn a baseline, then enforce with it (runs) and without it (stopped)")
        func learnRoundTrip() throws {
            let sandbox = try Sandbox()
            try sandbox.hostPolicy(#"{"relax":{"allow_wx":true}}"#)
            let jit = ["/mg-attack", "wx-mmap", "exec-anon"]
            let learned = try sandbox.run(sandbox.bundle("learn", command: jit,
                                                         annotations: ["io.memguard.monitor": "true", "io.memguard.mode": "learn", "io.memguard.baseline": "jit"]))
            #expect(learned.exit == 0)
            #expect(learned.logText.contains(#""event":"baseline-learned""#), "\(learned.logText)")
            let baseline = try Baseline.load("jit", paths: sandbox.paths)
            #expect(baseline.entries == [.init(path: "/mg-attack", kinds: ["wx-mmap", "exec-writable"])])

            let withBaseline = try sandbox.run(sandbox.bundle("with", command: jit,
                                                              annotations: ["io.memguard.monitor": "true", "io.memguard.mode": "enforce", "io.memguard.baseline": "jit"]))
            #expect(withBaseline.exit == 0 && withBaseline.output.contains("survived exec-anon"), "\(withBaseline.output)")
            #expect(withBaseline.log?.total == 0, "\(withBaseline.logText)")
            let without = try sandbox.run(sandbox.bundle("without", command: jit, mode: .enforce))
            #expect(without.exit == 137)
            #expect(without.log?.actions == ["killed": 1])
            sandbox.expectNothingLeft()
        }

        @Test("a heap spray raises one alert; ordinary allocation does not")
        func heapSpray() throws {
            let sandbox = try Sandbox()
            let spray = try sandbox.run(sandbox.bundle("spray", command: ["/mg-attack", "spray"]))
            #expect(spray.exit == 0)
            #expect(spray.log?.counts == [EventKind.heapSpray: 1], "\(spray.logText)")
            #expect(spray.log?.actions == ["alert": 1])
            let normal = try sandbox.run(sandbox.bundle("normal", command: ["/mg-attack", "benign", "grow"]))
            #expect(normal.log?.counts[.heapSpray] == nil, "\(normal.logText)")
            // Address space reserved PROT_NONE (as Go does, GiBs at a time) holds nothing; the
            // same memory made read-write is counted.
            let reserved = try sandbox.run(sandbox.bundle("reserve", command: ["/mg-attack", "reserve"]))
            #expect(reserved.exit == 0 && reserved.log?.total == 0, "\(reserved.output) \(reserved.logText)")
            for variant in ["reserve-commit", "reserve-commit-read-first"] {
                let committed = try sandbox.run(sandbox.bundle(variant, command: ["/mg-attack", variant]))
                #expect(committed.exit == 0 && committed.log?.counts == [.heapSpray: 1], "\(committed.output) \(committed.logText)")
            }
            sandbox.expectNothingLeft()
        }

        @Test("the working set is sampled: fast growth and nearing the limit raise alerts")
        func workingSet() throws {
            let sandbox = try Sandbox()
            try sandbox.hostPolicy(#"{"thresholds":{"sample_interval_ms":50,"working_set_growth_bytes_per_second":20971520,"working_set_limit_fraction":0.5}}"#)
            let run = try sandbox.run(sandbox.bundle("grow", command: ["/mg-attack", "grow"], memoryLimit: 96 << 20))
            #expect(run.exit == 0, "\(run.output)")
            #expect(run.logText.contains(#""event":"working-set-growth""#), "\(run.logText)")
            #expect(run.logText.contains(#""event":"working-set-limit""#), "\(run.logText)")
            let quiet = try sandbox.run(sandbox.bundle("quiet", command: ["/mg-attack", "benign"], memoryLimit: 96 << 20))
            #expect(!quiet.logText.contains("working-set-"), "\(quiet.logText)")
            sandbox.expectNothingLeft()
        }
    }
}

extension Integration.Policy {
    @Test("a world-writable policy directory or profile is refused")
    func worldWritableRefused() throws {
        let sandbox = try Sandbox()
        try sandbox.hostPolicy(#"{"mode":"audit"}"#)
        chmod(sandbox.paths.configDir, 0o777)
        let run = try sandbox.run(sandbox.bundle("ww", command: ["/bin/echo", "ran"]))
        #expect(run.exit != 0 && run.output.contains("writable by everyone"), "\(run.output)")
        chmod(sandbox.paths.configDir, 0o750)
        try FileSystem.makeDirectories("\(sandbox.paths.configDir)/seccomp")
        try FileSystem.writeAtomically("\(sandbox.paths.configDir)/seccomp/open.json", #"{"defaultAction":"SCMP_ACT_ALLOW"}"#, mode: 0o666)
        chmod("\(sandbox.paths.configDir)/seccomp/open.json", 0o666)
        let profile = try sandbox.runThroughWrapper(sandbox.bundle("wwp", command: ["/bin/echo", "ran"],
                                                                   annotations: ["io.memguard.monitor": "true", "io.memguard.seccomp": "open"], hooks: false))
        #expect(profile.exit != 0 && profile.output.contains("writable by everyone"), "\(profile.output)")
        // memguard's own files: logs 0640 in a 0750 directory.
        let ok = try sandbox.run(sandbox.bundle("perm", command: ["/bin/echo", "ran"]))
        var st = stat()
        stat(sandbox.logFile(ok.log!.containers.first!), &st)
        #expect(st.st_mode & 0o777 == 0o640 && st.st_uid == 0)
        stat(sandbox.paths.logDir, &st)
        #expect(st.st_mode & 0o777 == 0o750)
        sandbox.expectNothingLeft()
    }
}
