import Dispatch
import Glibc
import MemguardCore
import MemguardMonitor
import MemguardProbes
import Testing
@testable import MemguardDemo

/// Many container lifecycles, sequential and ten at a time, through every way a container can
/// end, and afterwards nothing of memguard's may be left. MEMGUARD_CHURN sets how many
/// (default 36 here; bench/churn.sh runs 300 and prints the counts).
extension Integration {
    @Suite("Lifecycle churn")
    struct Churn {
        enum Ending: String, CaseIterable {
            case normal, crash, killThenDelete = "kill-then-delete", killedNeverDeleted = "killed-never-deleted"
            case monitorKilled = "monitor-killed", startsAsLastLeaves = "starts-as-last-leaves"
        }

        final class Tally: @unchecked Sendable {
            private var lock = pthread_mutex_t()
            var lifecycles: [String: Int] = [:]
            var problems: [String] = []
            var ids: [String] = []
            init() { pthread_mutex_init(&lock, nil) }
            func add(_ ending: Ending, ids new: [String], problem: String?) {
                pthread_mutex_lock(&lock)
                lifecycles[ending.rawValue, default: 0] += new.count
                ids += new
                if let problem { problems.append("\(ending.rawValue) \(new.first ?? ""): \(problem)") }
                pthread_mutex_unlock(&lock)
            }
        }

        /// One lifecycle (or three, for starts-as-last-leaves); returns the container ids and a
        /// problem, if any.
        static func run(_ ending: Ending, sandbox: Sandbox, tag: String) -> ([String], String?) {
            do {
                switch ending {
                case .normal:
                    let b = try sandbox.bundle("\(tag)-n", command: ["/mg-attack", "wx-mmap"])
                    let r = try sandbox.run(b)
                    return ([b.id], r.exit == 0 && r.log?.counts == [.wxMmap: 1] ? nil : "exit \(r.exit), \(r.logText)")
                case .crash:
                    let b = try sandbox.bundle("\(tag)-c", command: ["/mg-attack", "crash"])
                    let r = try sandbox.run(b)
                    return ([b.id], r.exit == 139 ? nil : "exit \(r.exit), expected 139")
                case .killThenDelete, .killedNeverDeleted, .monitorKilled:
                    let b = try sandbox.bundle("\(tag)-k", command: ["/mg-attack", "sleep", "30"])
                    guard ProcessRunner.wait(try sandbox.start(b, detached: true)) == 0 else { return ([b.id], "run -d failed") }
                    if ending == .monitorKilled, let state = try StateRecord.load(sandbox.paths.stateFile(for: ContainerID(b.id))) {
                        kill(state.monitorPID, SIGKILL)
                    }
                    _ = try sandbox.runc("kill", b.id, "KILL")
                    if ending == .killedNeverDeleted {
                        // The monitor notices by itself; the runtime's state is removed afterwards.
                        sandbox.waitForMonitorStop(b.id)
                    }
                    let deleted = sandbox.waitFor { (try? sandbox.runc("delete", b.id)) == 0 }
                    sandbox.waitForMonitorStop(b.id)
                    return ([b.id], deleted ? nil : "runc delete failed")
                case .startsAsLastLeaves:
                    let last = try sandbox.bundle("\(tag)-l", command: ["/mg-attack", "sleep", "0.2"])
                    let a = try sandbox.bundle("\(tag)-a", command: ["/mg-attack", "wx-mmap"])
                    let b = try sandbox.bundle("\(tag)-b", command: ["/mg-attack", "wx-mmap"])
                    let leaving = try sandbox.start(last)
                    usleep(200_000)
                    let (ra, rb) = (try sandbox.start(a), try sandbox.start(b))
                    let exits = [ProcessRunner.wait(leaving), ProcessRunner.wait(ra), ProcessRunner.wait(rb)]
                    for id in [last.id, a.id, b.id] { sandbox.waitForMonitorStop(id) }
                    return ([last.id, a.id, b.id], exits == [0, 0, 0] ? nil : "exits \(exits)")
                }
            } catch {
                return ([], "\(error)")
            }
        }

        @Test("every ending, sequential and ten at a time: nothing leaks, every log is complete")
        func churn() throws {
            let total = getenv("MEMGUARD_CHURN").flatMap { Int(String(cString: $0)) } ?? 36
            let sandbox = try Sandbox()
            let tally = Tally()
            let endings = Ending.allCases
            let start = Clock.nanoseconds(CLOCK_MONOTONIC)

            for i in 0..<(total / 2) {
                let ending = endings[i % endings.count]
                let (ids, problem) = Self.run(ending, sandbox: sandbox, tag: "s\(i)")
                tally.add(ending, ids: ids, problem: problem)
            }
            var batch = 0
            while tally.lifecycles.values.reduce(0, +) < total {
                let base = batch * 10
                DispatchQueue.concurrentPerform(iterations: 10) { j in
                    let ending = endings[(base + j) % endings.count]
                    let (ids, problem) = Self.run(ending, sandbox: sandbox, tag: "p\(base + j)")
                    tally.add(ending, ids: ids, problem: problem)
                }
                batch += 1
            }
            // A share through containerd and the shim.
            let containerd = try PrivateContainerd(sandbox: sandbox)
            for i in 0..<max(2, total / 10) {
                let id = sandbox.uniqueID("ctd\(i)")
                let run = try containerd.run(id, annotations: ["io.memguard.monitor": "true"], command: ["/mg-attack", "wx-mmap"])
                tally.add(.normal, ids: [id], problem: run.exit == 0 ? nil : "ctr run exit \(run.exit): \(run.output)")
            }
            containerd.stop()

            var incomplete: [String] = []
            for id in tally.ids {
                let lines = sandbox.logLines(id)
                let started = lines.contains { $0.contains(#""event":"monitor-start""#) }
                let stopped = lines.contains { $0.contains(#""event":"monitor-stop""#) }
                if !started || !stopped { incomplete.append("\(id): start \(started), stop \(stopped)") }
            }
            let left = Leftovers.waitUntilClean(paths: sandbox.paths, timeoutMilliseconds: 5000)
            let seconds = Double(Clock.nanoseconds(CLOCK_MONOTONIC) - start) / 1e9
            print("churn: \(tally.ids.count) container lifecycles in \(Int(seconds)) s: " +
                  tally.lifecycles.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
            print("churn: problems \(tally.problems.count), incomplete logs \(incomplete.count), left behind: \(left)")
            #expect(tally.problems.isEmpty, "\(tally.problems.prefix(5))")
            #expect(incomplete.isEmpty, "\(incomplete.prefix(5))")
            #expect(left.isEmpty, "\(left)")
            #expect(tally.ids.count >= total)
        }
    }
}
