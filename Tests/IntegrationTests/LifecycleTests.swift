import Glibc
import MemguardCore
import MemguardMonitor
import MemguardProbes
import Testing
@testable import MemguardDemo

extension Integration {
    @Suite("Lifecycle without the happy path")
    struct Lifecycle {
        @Test("a container killed and never deleted is cleaned up by its monitor")
        func killedNeverDeleted() throws {
            let sandbox = try Sandbox()
            let bundle = try sandbox.bundle("orphan", command: ["/mg-attack", "wx-mmap", "sleep", "30"])
            #expect(ProcessRunner.wait(try sandbox.start(bundle, detached: true)) == 0)
            #expect(sandbox.waitFor { sandbox.logLines(bundle.id).contains { $0.contains(#""event":"wx-mmap""#) } })
            #expect(try sandbox.runc("kill", bundle.id, "KILL") == 0)
            let stopped = sandbox.waitFor { sandbox.logLines(bundle.id).last?.contains(#""event":"monitor-stop""#) == true }
            #expect(stopped, "\(sandbox.logLines(bundle.id))")
            #expect(sandbox.logLines(bundle.id).last?.contains("container-exited-without-poststop") == true)
            sandbox.expectNothingLeft()
            // A late delete runs poststop, which finds nothing left to do.
            #expect(try sandbox.runc("delete", bundle.id) == 0)
            #expect(sandbox.logLines(bundle.id).last?.contains(#""result":"not-monitored""#) == true)
            sandbox.expectNothingLeft()
        }

        @Test("a monitor killed with SIGKILL is torn down by poststop")
        func monitorKilled() throws {
            let sandbox = try Sandbox()
            let bundle = try sandbox.bundle("lost", command: ["/mg-attack", "sleep", "30"])
            #expect(ProcessRunner.wait(try sandbox.start(bundle, detached: true)) == 0)
            let state = try #require(try StateRecord.load(sandbox.paths.stateFile(for: ContainerID(bundle.id))))
            #expect(kill(state.monitorPID, SIGKILL) == 0)
            #expect(sandbox.waitFor { Leftovers.monitorProcesses().isEmpty })
            #expect(try sandbox.runc("kill", bundle.id, "KILL") == 0)
            #expect(sandbox.waitFor { (try? sandbox.runc("delete", bundle.id)) == 0 })
            let last = sandbox.logLines(bundle.id).last ?? ""
            #expect(last.contains(#""event":"monitor-stop""#) && last.contains("monitor-lost"), "\(last)")
            #expect(sandbox.logLines(bundle.id).contains { $0.contains(#""result":"monitor-lost""#) })
            sandbox.expectNothingLeft()
        }

        @Test("a container without the opt-in annotation is left alone")
        func notOptedIn() throws {
            let sandbox = try Sandbox()
            let bundle = try sandbox.bundle("plain", command: ["/mg-attack", "wx-mmap", "sleep", "0.5"], annotations: ["other": "x"])
            let process = try sandbox.start(bundle)
            #expect(sandbox.waitFor(milliseconds: 400) { !KernelObjects.current().isEmpty } == false,
                    "programs were loaded for a container that did not opt in")
            let run = sandbox.finish(bundle, exit: ProcessRunner.wait(process))
            #expect(run.exit == 0)
            #expect(!FileSystem.exists(sandbox.logFile(bundle.id)))
            #expect(FileSystem.list(sandbox.paths.logDir).isEmpty)
            sandbox.expectNothingLeft()
        }
    }
}
