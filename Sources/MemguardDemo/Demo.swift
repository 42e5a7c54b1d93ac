import CShims
import Glibc
import MemguardCore
import MemguardMonitor
import MemguardProbes

/// `memguard demo`: the main job, end to end, on real runc containers. Builds busybox bundles
/// with memguard's hooks, runs a benign container, an audit-mode attacker, an enforce-mode
/// attacker and two containers at once, checks each log, and checks that nothing is left
/// behind. Exit 0 only if every expectation held.
public enum Demo {
    struct Scenario {
        var name: String
        var mode: MonitorSettings.Mode
        var command: [String]
        var expectedExit: Int32
        var expectedKinds: Set<EventKind>
        var expectedAction: String
    }

    struct Outcome {
        var scenario: Scenario
        var id: String
        var exitCode: Int32
        var summary: LogSummary?
        var problems: [String]
    }

    /// What `mg-attack all` does: every kind but the heap-spray heuristic.
    static let allKinds: Set<EventKind> = Set(EventKind.allCases).subtracting([.heapSpray])

    public static func run(arguments: [String], paths: MemguardPaths) -> Int32 {
        var attackOverride: String?
        var args = arguments[...]
        while let arg = args.popFirst() {
            switch arg {
            case "--attack-bin": attackOverride = args.popFirst()
            case "--help", "-h":
                print("usage: memguard demo [--attack-bin PATH]\n\nRuns real runc containers with memguard and prints what it caught per container.")
                return 0
            default:
                printError("memguard demo: unknown argument '\(arg)'")
                return 2
            }
        }
        do {
            return try runScenarios(tools: try findTools(attackOverride: attackOverride), paths: paths)
        } catch {
            printError("memguard demo: \(error)")
            return 1
        }
    }

    static func runScenarios(tools: DemoBundle.Tools, paths: MemguardPaths) throws -> Int32 {
        guard getuid() == 0 else { throw MemguardError("the demo runs real containers and loads BPF programs: run it as root") }
        _ = mg_set_child_subreaper()
        var template = "/tmp/memguard-demo.XXXXXX".utf8CString
        guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }).map({ String(cString: $0) }) else {
            throw MemguardError("creating a temporary directory", errno: .current)
        }
        defer { _ = try? ProcessRunner.run(["rm", "-rf", dir], output: "/dev/null") }
        let tag = "demo-\(getpid())"

        print("memguard demo: real runc containers, logs in \(paths.logDir)\n")
        var outcomes: [Outcome] = []
        let single: [Scenario] = [
            Scenario(name: "benign", mode: .audit, command: ["/mg-attack", "benign"], expectedExit: 0, expectedKinds: [], expectedAction: "logged"),
            Scenario(name: "audit", mode: .audit, command: ["/mg-attack", "all"], expectedExit: 0, expectedKinds: allKinds, expectedAction: "logged"),
            Scenario(name: "enforce", mode: .enforce, command: ["/mg-attack", "all"], expectedExit: 128 + SIGKILL, expectedKinds: [.wxMmap], expectedAction: "killed"),
        ]
        for scenario in single {
            outcomes += try runTogether([scenario], tag: tag, dir: dir, tools: tools, paths: paths)
        }
        // Two containers at once: each event must land in its own container's log only.
        outcomes += try runTogether([
            Scenario(name: "pair-a", mode: .audit, command: ["/mg-attack", "sleep", "0.3", "wx-mmap", "exec-anon"],
                     expectedExit: 0, expectedKinds: [.wxMmap, .execWritable], expectedAction: "logged"),
            Scenario(name: "pair-b", mode: .audit, command: ["/mg-attack", "sleep", "0.3", "ptrace", "proc-mem"],
                     expectedExit: 0, expectedKinds: [.ptrace, .procMem], expectedAction: "logged"),
        ], tag: tag, dir: dir, tools: tools, paths: paths)

        printTable(outcomes)
        print("\nper-container logs (JSON lines): \(paths.logDir)/<container>.log, e.g. \(paths.logDir)/\(tag)-audit.log")
        let left = Leftovers.waitUntilClean(paths: paths)
        print("\nleft behind after the last container: \(left)")
        let problems = outcomes.flatMap { o in o.problems.map { "\(o.scenario.name): \($0)" } } + (left.isEmpty ? [] : ["leftovers: \(left)"])
        if problems.isEmpty {
            print("result: every expectation held")
            return 0
        }
        print("result: \(problems.count) problem(s)")
        problems.forEach { print("  - \($0)") }
        return 1
    }

    /// Starts the scenarios' containers at the same time and checks each one's log.
    static func runTogether(_ scenarios: [Scenario], tag: String, dir: String, tools: DemoBundle.Tools, paths: MemguardPaths) throws -> [Outcome] {
        let bundles = try scenarios.map { s in
            try DemoBundle(parent: dir, id: "\(tag)-\(s.name)", tools: tools, command: s.command, mode: s.mode, paths: paths)
        }
        let running = try bundles.map { b in
            try ProcessRunner.start([tools.runc, "run", "--bundle", b.directory, b.id], output: "\(dir)/\(b.id).out")
        }
        let exits = running.map(ProcessRunner.wait)
        // poststop returns at once; the monitors finish (drain, stop line, teardown) just after.
        for bundle in bundles {
            let state = paths.stateFile(for: try ContainerID(bundle.id))
            for _ in 0..<250 where FileSystem.exists(state) { usleep(20_000) }
        }
        ProcessRunner.reapOrphans()
        return zip(scenarios, zip(bundles, exits)).map { scenario, pair in
            check(scenario, id: pair.0.id, exit: pair.1, paths: paths, output: "\(dir)/\(pair.0.id).out")
        }
    }

    static func check(_ scenario: Scenario, id: String, exit: Int32, paths: MemguardPaths, output: String) -> Outcome {
        var outcome = Outcome(scenario: scenario, id: id, exitCode: exit, summary: nil, problems: [])
        if exit != scenario.expectedExit {
            let text = (try? FileSystem.readText(output, limit: 65536)) ?? ""
            outcome.problems.append("exit \(exit), expected \(scenario.expectedExit); output: \(text.split(separator: "\n").suffix(4).joined(separator: " | "))")
        }
        guard let container = try? ContainerID(id), let summary = try? LogSummary(path: paths.logFile(for: container)) else {
            outcome.problems.append("no readable log at \(paths.logDir)")
            return outcome
        }
        outcome.summary = summary
        let seen = Set(summary.counts.keys)
        if seen != scenario.expectedKinds {
            let missing = scenario.expectedKinds.subtracting(seen).map(\.name).sorted()
            let extra = seen.subtracting(scenario.expectedKinds).map(\.name).sorted()
            outcome.problems.append("events missing \(missing), unexpected \(extra)")
        }
        if summary.total > 0 && Set(summary.actions.keys) != [scenario.expectedAction] {
            outcome.problems.append("actions \(summary.actions), expected all \(scenario.expectedAction)")
        }
        if !summary.started || !summary.stopped { outcome.problems.append("log lacks the monitor's start or stop line") }
        if summary.lost != 0 { outcome.problems.append("\(summary.lost) events lost") }
        if summary.containers != [id] { outcome.problems.append("log holds lines of other containers: \(summary.containers.sorted())") }
        return outcome
    }

    static func printTable(_ outcomes: [Outcome]) {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
        print(pad("container", 26) + pad("mode", 8) + pad("exit", 6) + pad("check", 7) + "events seen (kind=count, action)")
        for o in outcomes {
            let events = o.summary.map { s in s.total == 0 ? "none" : "\(s.kindsText) (\(s.actions.keys.sorted().joined(separator: ",")))" } ?? "no log"
            print(pad(o.id, 26) + pad(o.scenario.mode.rawValue, 8) + pad(o.exitCode == 137 ? "KILL" : "\(o.exitCode)", 6)
                  + pad(o.problems.isEmpty ? "ok" : "FAIL", 7) + events)
        }
    }

    static func findTools(attackOverride: String?) throws -> DemoBundle.Tools {
        guard let runc = ProcessRunner.find("runc") else { throw MemguardError("runc not found: install it (apt-get install runc, or ./install.sh)") }
        guard let busybox = (["/bin/busybox", "/usr/bin/busybox"] as [String]).first(where: { access($0, X_OK) == 0 }) else {
            throw MemguardError("busybox not found: install busybox-static (or ./install.sh)")
        }
        let exe = (try? selfExecutablePath()) ?? "/usr/local/bin/memguard"
        let exeDir = String(exe[..<(exe.lastIndex(of: "/") ?? exe.endIndex)])
        let env = getenv("MEMGUARD_ATTACK_BIN").map { String(cString: $0) }
        let candidates = [attackOverride, env, "\(exeDir)/../libexec/memguard/mg-attack", "/usr/local/libexec/memguard/mg-attack"].compactMap { $0 }
        guard let attack = candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw MemguardError("the attack program mg-attack was not found (looked at \(candidates)); ./install.sh builds it from examples/mg-attack.c, or pass --attack-bin")
        }
        return DemoBundle.Tools(runc: runc, busybox: busybox, attack: attack, memguard: exe)
    }
}
