import MemguardCore
import MemguardProbes
import Testing
@testable import MemguardDemo

/// The attack program's kind names and the event each must produce.
let attackKinds: [(attack: String, kind: EventKind)] = [
    ("wx-mmap", .wxMmap), ("wx-mprotect", .wxMprotect), ("exec-anon", .execWritable), ("code-patch", .codePatch),
    ("exec-memfd", .execMemfd), ("exec-deleted", .execDeleted), ("ptrace", .ptrace), ("vm-writev", .vmWritev),
    ("proc-mem", .procMem),
]

extension Integration {
    @Suite("Attacks in monitored containers")
    struct Attacks {
        @Test("audit mode logs the attack and the process survives", arguments: attackKinds.map(\.attack))
        func auditLogsEachKind(attack: String) throws {
            let kind = attackKinds.first { $0.attack == attack }!.kind
            let sandbox = try Sandbox()
            let run = try sandbox.run(sandbox.bundle(attack, command: ["/mg-attack", attack]))
            #expect(run.exit == 0, "\(run.output)")
            #expect(run.output.contains("survived \(attack)"), "\(run.output)")
            let log = try #require(run.log, "no log: \(run.logText)")
            #expect(log.counts == [kind: 1], "\(run.logText)")
            #expect(log.actions == ["logged": 1])
            #expect(log.started && log.stopped && log.lost == 0, "\(run.logText)")
            sandbox.expectNothingLeft()
        }

        @Test("enforce mode kills the offender at the violation", arguments: attackKinds.map(\.attack))
        func enforceKillsEachKind(attack: String) throws {
            let kind = attackKinds.first { $0.attack == attack }!.kind
            let sandbox = try Sandbox()
            let run = try sandbox.run(sandbox.bundle(attack, command: ["/mg-attack", attack], mode: .enforce))
            if kind == .execMemfd || kind == .execDeleted {
                // The offender is the child that executes the payload: killed before it runs.
                #expect(run.output.contains("child-status \(attack) signal 9"), "\(run.output)")
                #expect(run.exit == 0)
            } else {
                #expect(run.exit == 137, "\(run.output)")
                #expect(run.output.contains("attempt \(attack)"))
                #expect(!run.output.contains("survived \(attack)"), "\(run.output)")
            }
            let log = try #require(run.log, "no log")
            #expect(log.counts == [kind: 1], "\(run.logText)")
            #expect(log.actions == ["killed": 1], "\(run.logText)")
            sandbox.expectNothingLeft()
        }

        @Test("a sustained burst is read while it lasts: the monitor stays up and every event is logged or counted as lost")
        func sustainedBurst() throws {
            let sandbox = try Sandbox()
            let events = 200_000
            let bundle = try sandbox.bundle("burst", command: ["/mg-attack", "loop", "wx-flip", "\(events)"])
            let run = try sandbox.run(bundle)
            #expect(run.exit == 0, "\(run.output)")
            let log = try #require(run.log, "no log")
            let text = try FileSystem.readText(sandbox.logFile(bundle.id), limit: 256 << 20)
            let stop = text.split(separator: "\n").last.map(String.init) ?? ""
            // A monitor that queued a whole burst before writing it ran into its memory cap.
            #expect(stop.contains(#""event":"monitor-stop""#) && stop.contains(#""reason":"poststop""#), "\(stop)")
            #expect(stop.contains(#""wx-mprotect":\#(events)"#), "\(stop)")
            #expect(Int64(log.counts[.wxMprotect] ?? 0) + log.lost == Int64(events), "\(stop)")
            sandbox.expectNothingLeft()
        }

        @Test("a benign workload produces no events")
        func benignIsSilent() throws {
            let sandbox = try Sandbox()
            let run = try sandbox.run(sandbox.bundle("benign", command: ["/mg-attack", "benign"]))
            #expect(run.exit == 0)
            let log = try #require(run.log)
            #expect(log.total == 0, "\(run.logText)")
            #expect(log.started && log.stopped)
            let lines = sandbox.logLines(run.log!.containers.first!)
            #expect(lines.first?.contains(#""event":"monitor-start""#) == true)
            // The stop line and poststop's own line may come in either order.
            #expect(lines.suffix(2).contains { $0.contains(#""event":"monitor-stop""#) }, "\(lines)")
            #expect(run.logText.contains(#""mmap_calls":"#))
            sandbox.expectNothingLeft()
        }

        @Test("a shell and busybox tools produce no events")
        func busyboxShellIsSilent() throws {
            let sandbox = try Sandbox()
            let run = try sandbox.run(sandbox.bundle("shell", command: ["/bin/sh", "-c", "echo hi; ls / >/dev/null; cat /proc/self/status >/dev/null"]))
            #expect(run.exit == 0)
            #expect(run.log?.total == 0, "\(run.logText)")
            sandbox.expectNothingLeft()
        }
    }

    @Suite("Several containers")
    struct Several {
        @Test("two containers at once: each event lands only in its own log")
        func eventsStayInTheirContainer() throws {
            let sandbox = try Sandbox()
            let a = try sandbox.bundle("a", command: ["/mg-attack", "sleep", "0.3", "wx-mmap", "exec-anon", "sleep", "0.2"])
            let b = try sandbox.bundle("b", command: ["/mg-attack", "sleep", "0.3", "ptrace", "proc-mem", "sleep", "0.2"])
            let (ra, rb) = (try sandbox.start(a), try sandbox.start(b))
            let runA = sandbox.finish(a, exit: ProcessRunner.wait(ra))
            let runB = sandbox.finish(b, exit: ProcessRunner.wait(rb))
            #expect(runA.exit == 0 && runB.exit == 0)
            #expect(runA.log?.counts == [EventKind.wxMmap: 1, .execWritable: 1], "\(runA.logText)")
            #expect(runB.log?.counts == [EventKind.ptrace: 1, .procMem: 1], "\(runB.logText)")
            #expect(runA.log?.containers == [a.id])
            #expect(runB.log?.containers == [b.id])
            sandbox.expectNothingLeft()
        }

        @Test("containers starting at the same instant share one program set")
        func simultaneousStartsLoadOnce() throws {
            let sandbox = try Sandbox()
            let bundles = try (0..<4).map { try sandbox.bundle("s\($0)", command: ["/mg-attack", "sleep", "1.5", "wx-mprotect"]) }
            let running = try bundles.map { try sandbox.start($0) }
            let sawOneSet = sandbox.waitFor {
                let programs = KernelObjects.current().programs
                return FileSystem.list(sandbox.paths.containersDir).count == 4 && programs == ProbeSet.programNames.sorted()
            }
            #expect(sawOneSet, "expected 4 registered containers and one program set, saw \(KernelObjects.current())")
            for (bundle, process) in zip(bundles, running) {
                let run = sandbox.finish(bundle, exit: ProcessRunner.wait(process))
                #expect(run.exit == 0, "\(run.output)")
                #expect(run.log?.counts == [EventKind.wxMprotect: 1], "\(run.logText)")
            }
            sandbox.expectNothingLeft()
        }
    }
}

/// Variants that once evaded the probes (found by trying to break memguard), with the event
/// each must produce now.
let evasionKinds: [(attack: String, kind: EventKind)] = [
    ("two-vma", .execWritable), ("double-map", .execWritable), ("file-double-map", .execWritable),
    ("file-double-mprotect", .execWritable), ("code-patch-open-file", .codePatch), ("fake-runc-memfd", .execMemfd),
    ("proc-mem-symlink", .procMem), ("proc-mem-dirfd", .procMem), ("proc-mem-reopen", .procMem),
    ("ia32-wx-mprotect", .wxMprotect), ("ia32-exec-anon", .execWritable), ("read-implies-exec", .wxMmap),
]

extension Integration {
    @Suite("Evasions that must not work")
    struct Evasions {
        @Test("each variant is caught", arguments: evasionKinds.map(\.attack))
        func caught(attack: String) throws {
            let kind = evasionKinds.first { $0.attack == attack }!.kind
            let sandbox = try Sandbox()
            let run = try sandbox.run(sandbox.bundle(attack, command: ["/mg-attack", attack]))
            #expect(run.exit == 0, "\(run.output)")
            #expect(run.output.contains("survived \(attack)"), "\(run.output)")
            #expect(run.log?.counts == [kind: 1], "\(run.logText)")
            if attack.hasPrefix("ia32") {
                #expect(run.logText.contains(#""syscall":"ia32 mprotect""#), "\(run.logText)")
            }
            sandbox.expectNothingLeft()
        }

        @Test("in enforce mode the ia32 variant is killed too")
        func ia32Killed() throws {
            let sandbox = try Sandbox()
            let run = try sandbox.run(sandbox.bundle("ia32", command: ["/mg-attack", "ia32-exec-anon"], mode: .enforce))
            #expect(run.exit == 137, "\(run.output)")
            #expect(run.log?.actions == ["killed": 1], "\(run.logText)")
            sandbox.expectNothingLeft()
        }
    }
}
