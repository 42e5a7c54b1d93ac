import Glibc
import MemguardCore
import MemguardProbes
import Testing
@testable import MemguardDemo

/// The probes look a mapping up with bpf_find_vma, which only try-locks the process's mmap
/// lock: in multi-threaded processes it often fails. A call that adds write only is then judged
/// on a lock-free read of the memory map (or counted as unjudged), never killed on a guess; one
/// that adds execute stays suspicious.
extension Integration {
    @Suite("A busy mmap lock")
    struct Contention {
        @Test("runc exec into an enforce-mode container is never killed (runc's init is multi-threaded)")
        func runcExecSurvives() throws {
            let sandbox = try Sandbox()
            let bundle = try sandbox.bundle("exec", command: ["/mg-attack", "sleep", "60"], mode: .enforce)
            #expect(ProcessRunner.wait(try sandbox.start(bundle, detached: true)) == 0)
            // Before the lock-free read, 1 in 4 of these was killed as a code patch.
            var failed = 0
            for _ in 0..<40 where try sandbox.runc("exec", bundle.id, "/bin/true") != 0 { failed += 1 }
            let lastOutput = (try? FileSystem.readText("\(sandbox.root)/runc-exec.out")) ?? ""
            #expect(failed == 0, "\(lastOutput)")
            #expect(try sandbox.runc("delete", "-f", bundle.id) == 0)
            sandbox.waitForMonitorStop(bundle.id)
            let log = try LogSummary(path: sandbox.logFile(bundle.id))
            #expect(log.total == 0 && log.stopped, "\(sandbox.logLines(bundle.id))")
            sandbox.expectNothingLeft()
        }

        /// contended-commit: PROT_NONE memory made read-write 5000 times, as glibc does for thread
        /// stacks and arenas; contended-hole: an unmapped page mprotected 20000 times (ENOMEM).
        @Test("no violation while other threads hold the lock: memory made accessible, an unmapped page; enforce mode",
              arguments: ["contended-commit", "contended-hole"])
        func benignUnderContention(attack: String) throws {
            let sandbox = try Sandbox()
            let run = try sandbox.run(sandbox.bundle(attack, command: ["/mg-attack", attack], mode: .enforce))
            #expect(run.exit == 0 && run.output.contains("survived \(attack)"), "\(run.output)")
            let log = try #require(run.log, "no log")
            #expect(log.total == 0 && log.stopped && log.lost == 0, "\(log.counts) \(log.actions)")
            sandbox.expectNothingLeft()
        }

        @Test("making memory executable while another thread's mremap waits behind the lock is killed (break-it round)")
        func mremapRaceKilled() throws {
            let sandbox = try Sandbox()
            let run = try sandbox.run(sandbox.bundle("race", command: ["/mg-attack", "mremap-race"], mode: .enforce))
            #expect(!run.output.contains("EVADED"), "\(run.output)")
            #expect(run.exit == 137, "\(run.output)")
            #expect(run.log?.counts == [.execWritable: 1] && run.log?.actions == ["killed": 1], "\(run.logText)")
            sandbox.expectNothingLeft()
        }

        @Test("every code patch made while other threads hold the lock is reported, and enforce kills the first")
        func codePatchUnderContention() throws {
            let sandbox = try Sandbox()
            let audit = try sandbox.run(sandbox.bundle("patch", command: ["/mg-attack", "contended-code-patch"]))
            #expect(audit.exit == 0 && audit.output.contains("survived contended-code-patch"), "\(audit.output)")
            let log = try #require(audit.log, "no log")
            // Reported, or counted where even the lock-free read raced the writer.
            #expect(log.counts.keys.sorted(by: { $0.rawValue < $1.rawValue }) == [.codePatch] && log.lost == 0, "\(log.counts) lost \(log.lost)")
            #expect(Int64(log.counts[.codePatch] ?? 0) + log.unjudged == 1000, "\(log.counts) unjudged \(log.unjudged)")
            #expect(log.actions.keys.sorted() == ["logged"], "\(log.actions)")
            let enforce = try sandbox.run(sandbox.bundle("patch-enforce", command: ["/mg-attack", "contended-code-patch"], mode: .enforce))
            #expect(enforce.exit == 137, "\(enforce.output)")
            // Killed in the kernel at the first one judged (any before it counted as unjudged).
            #expect(enforce.log?.counts == [.codePatch: 1] && enforce.log?.actions == ["killed": 1], "\(enforce.logText)")
            sandbox.expectNothingLeft()
        }
    }
}
