import Glibc
import MemguardCore
import MemguardMonitor
import MemguardProbes
import Testing
@testable import MemguardDemo

/// What the integration tests run against: the `memguard` binary built next to the test
/// bundle, real runc, busybox, and mg-attack compiled from examples/ once per run.
enum TestHost {
    static let repository: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3) // Tests/IntegrationTests/TestHost.swift
        return parts.joined(separator: "/")
    }()

    static let buildDirectory: String = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = String(decoding: buffer[0..<max(n, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(exe[..<(exe.lastIndex(of: "/") ?? exe.endIndex)])
    }()

    static let scratch: String = {
        var template = "/tmp/memguard-tests.XXXXXX".utf8CString
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }()

    /// Prerequisites, checked loudly: root, runc, busybox, a C compiler, bpffs and BTF.
    static let tools: Result<DemoBundle.Tools, MemguardError> = {
        guard getuid() == 0 else { return .failure(MemguardError("integration tests need root (real containers, BPF)")) }
        let memguard = "\(buildDirectory)/memguard"
        guard access(memguard, X_OK) == 0 else { return .failure(MemguardError("no memguard binary at \(memguard)")) }
        guard let runc = ProcessRunner.find("runc") else { return .failure(MemguardError("runc is not installed: run ./install.sh")) }
        guard let busybox = (["/bin/busybox", "/usr/bin/busybox"] as [String]).first(where: { access($0, X_OK) == 0 }) else {
            return .failure(MemguardError("busybox-static is not installed: run ./install.sh"))
        }
        let attack = "\(scratch)/mg-attack"
        let built = (try? ProcessRunner.run(["cc", "-static", "-O2", "-o", attack, "\(repository)/examples/mg-attack.c"],
                                           output: "\(scratch)/cc.out")) ?? -1
        guard built == 0 else { return .failure(MemguardError("compiling examples/mg-attack.c failed; see \(scratch)/cc.out")) }
        return .success(DemoBundle.Tools(runc: runc, busybox: busybox, attack: attack, memguard: memguard))
    }()

    static func requireTools() throws -> DemoBundle.Tools {
        try tools.get()
    }
}

/// One test's private memguard world: its own log, state and pin directories, so tests never
/// touch a real installation's files. Kernel objects are global: the suite runs serially and
/// every test checks that none is left.
final class Sandbox {
    let root: String
    let paths: MemguardPaths
    let tools: DemoBundle.Tools
    /// Hooks get a short exit grace so "killed, never deleted" resolves quickly.
    let hookEnvironment = ["MEMGUARD_EXIT_GRACE_MS=300"]
    private var counter = 0

    init() throws {
        tools = try TestHost.requireTools()
        counter = 0
        root = "\(TestHost.scratch)/s\(Clock.nanoseconds(CLOCK_MONOTONIC))"
        try FileSystem.makeDirectories(root)
        var paths = MemguardPaths()
        paths.logDir = "\(root)/log"
        paths.stateDir = "\(root)/run"
        paths.dataDir = "\(root)/data"
        paths.configDir = "\(root)/etc"
        paths.metricsDir = "\(root)/metrics"
        paths.pinDir = "/sys/fs/bpf/memguard-test-\(getpid())"
        self.paths = paths
        try BPFFilesystem.prepare(pinDir: paths.pinDir)
        let before = Leftovers.waitUntilClean(paths: paths)
        try #require(before.isEmpty, "memguard state is already present before the test (is another memguard running?): \(before)")
    }

    func uniqueID(_ name: String) -> String {
        counter += 1
        return "it-\(getpid())-\(counter)-\(name)"
    }

    func bundle(_ name: String, command: [String], mode: MonitorSettings.Mode = .audit, annotations: [String: String]? = nil,
                hooks: Bool = true, extraEnvironment: [String] = [], memoryLimit: Int64? = nil) throws -> DemoBundle {
        try DemoBundle(parent: root, id: uniqueID(name), tools: tools, command: command, mode: mode, paths: paths,
                       annotations: annotations, hookEnvironment: hookEnvironment + extraEnvironment, hooks: hooks,
                       memoryLimit: memoryLimit)
    }

    /// Writes the sandbox's host policy (memguard.json).
    func hostPolicy(_ json: String) throws {
        try FileSystem.makeDirectories(paths.configDir)
        try FileSystem.writeAtomically("\(paths.configDir)/memguard.json", json)
    }

    /// memguard-runc: a symlink to the built memguard under that name.
    var wrapper: String {
        let link = "\(TestHost.scratch)/memguard-runc"
        if !FileSystem.exists(link) { symlink(tools.memguard, link) }
        return link
    }

    /// A stand-in runtime for tests of memguard-runc's own decisions: it prints `label` and the
    /// arguments it was handed (what runc would do with them is not what is tested).
    func standInRuntime(_ name: String, label: String) throws -> String {
        let path = "\(root)/\(name)"
        try FileSystem.writeAtomically(path, "#!/bin/sh\necho \(label) \"$@\"\n", mode: 0o755)
        chmod(path, 0o755)
        return path
    }

    /// The environment memguard-runc runs with (as containerd would give it).
    var wrapperEnvironment: [String] { paths.environment + hookEnvironment }

    /// `memguard-runc run` to completion.
    func runThroughWrapper(_ bundle: DemoBundle) throws -> Run {
        let process = try ProcessRunner.start([wrapper, "run", "--bundle", bundle.directory, bundle.id],
                                              output: "\(root)/\(bundle.id).out", environment: wrapperEnvironment)
        return finish(bundle, exit: ProcessRunner.wait(process))
    }

    struct Run {
        var exit: Int32
        var output: String
        var log: LogSummary?
        var logText: String
    }

    /// `runc run` to completion.
    func run(_ bundle: DemoBundle) throws -> Run {
        finish(bundle, exit: ProcessRunner.wait(try start(bundle)))
    }

    func start(_ bundle: DemoBundle, detached: Bool = false) throws -> ProcessRunner.Running {
        let args = [tools.runc, "run"] + (detached ? ["-d"] : []) + ["--bundle", bundle.directory, bundle.id]
        return try ProcessRunner.start(args, output: "\(root)/\(bundle.id).out")
    }

    func finish(_ bundle: DemoBundle, exit: Int32) -> Run {
        waitForMonitorStop(bundle.id)
        let output = (try? FileSystem.readText("\(root)/\(bundle.id).out")) ?? ""
        let logPath = logFile(bundle.id)
        return Run(exit: exit, output: output, log: try? LogSummary(path: logPath),
                   logText: (try? FileSystem.readText(logPath)) ?? "")
    }

    func runc(_ args: String...) throws -> Int32 {
        try ProcessRunner.run([tools.runc] + args, output: "\(root)/runc-\(args.first ?? "").out")
    }

    /// poststop returns before the monitor has drained and torn down: wait for that (its state
    /// file goes last).
    func waitForMonitorStop(_ id: String) {
        let state = paths.stateFile(for: try! ContainerID(id))
        _ = waitFor(milliseconds: 5000) { !FileSystem.exists(state) }
    }

    func logFile(_ id: String) -> String {
        paths.logFile(for: try! ContainerID(id))
    }

    func logLines(_ id: String) -> [String] {
        ((try? FileSystem.readText(logFile(id))) ?? "").split(separator: "\n").map(String.init)
    }

    /// Waits until `condition` holds (polling), up to `milliseconds`.
    func waitFor(milliseconds: Int = 5000, _ condition: () -> Bool) -> Bool {
        let start = Clock.nanoseconds(CLOCK_MONOTONIC)
        while !condition() {
            if Clock.millisecondsSince(start) > Double(milliseconds) { return false }
            usleep(20_000)
        }
        return true
    }

    /// Every test ends here: nothing of memguard's may remain in the kernel or on disk.
    func expectNothingLeft(sourceLocation: SourceLocation = #_sourceLocation) {
        let left = Leftovers.waitUntilClean(paths: paths)
        #expect(left.isEmpty, "left behind: \(left)", sourceLocation: sourceLocation)
        if !left.isEmpty { try? ProbeSet.removePins(paths: paths) }
    }
}
