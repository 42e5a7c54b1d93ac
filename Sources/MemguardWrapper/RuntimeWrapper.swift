import Glibc
import MemguardCore
import MemguardSeccomp

/// `memguard-runc`: a runc-compatible command for engines that take a runtime binary
/// (containerd's runc shim: `BinaryName`). On `create`/`run`/`restore` of a bundle whose config.json opts
/// in (io.memguard.monitor=true) it adds memguard's hooks and any requested seccomp profile,
/// then it execs the real runtime with the same arguments. Everything else passes straight
/// through: same arguments, same stdio, the runtime's own exit code.
public enum RuntimeWrapper {
    public static func run(arguments: [String], paths: MemguardPaths) -> Int32 {
        let invocation = RuncInvocation(arguments: arguments)
        let runtime: String
        do {
            runtime = try realRuntime(paths: paths)
            if invocation.startsFromBundle {
                try prepareBundle(invocation, paths: paths)
            }
        } catch {
            report(error, invocation: invocation, paths: paths)
            return 1
        }
        let argv = [runtime] + arguments
        // execv returns only on failure; its errno is read before the C strings are freed.
        let failure = withCStrings(argv) { argv -> Int32 in
            execv(runtime, argv)
            return errno
        }
        report(MemguardError("executing the runtime \(runtime)", errno: Errno(failure)), invocation: invocation, paths: paths)
        return 127
    }

    /// Adds memguard's hooks (and seccomp profile) to an opted-in bundle; leaves any other
    /// bundle untouched, byte for byte.
    static func prepareBundle(_ invocation: RuncInvocation, paths: MemguardPaths) throws {
        let container = invocation.containerID.flatMap { try? ContainerID($0) }.map { "container \($0)" } ?? "container ?"
        do {
            // runc takes an empty --bundle as the current directory, and so does memguard-runc.
            let bundle = invocation.bundle.flatMap { $0.isEmpty ? nil : $0 } ?? currentDirectory()
            let file = try BundleConfigFile(bundle: bundle)
            defer { file.release() }
            // Bytes that cannot name an io.memguard key are not memguard's business.
            guard file.bytes.withUnsafeBytes(PassThrough.mayOptIn) else { return }
            // What json-c and runc's Go decoder could read differently is refused first.
            try KeyAudit.check(file.bytes, what: file.path)
            // It may opt in, so it must be read: what json-c cannot read (e.g. data after the
            // object, which Go's decoder ignores) is refused, never handed on unmonitored.
            let config: OCIConfig
            do {
                config = try OCIConfig(bytes: file.bytes, what: file.path)
            } catch {
                throw MemguardError("\(file.path) names io.memguard (or has \\u escapes) and cannot be read strictly, so memguard cannot tell whether it opts in: \(error)")
            }
            let annotations = try config.annotations(what: file.path)
            var paths = paths
            let host = try paths.loadHostConfig()
            guard let settings = try MonitorSettings(annotations: annotations, host: host) else { return }
            let memguard = try selfExecutablePath()
            let environment = paths.environment + passedEnvironment()
            for stage in ["createRuntime", "poststop"] {
                // Replaced, not kept: a bundle run again gets this run's directories.
                let args = ["memguard", "hook", stage]
                config.removeHooks(stage: stage, path: memguard, args: args)
                try config.addHook(stage: stage, path: memguard, args: args, env: environment, timeout: 30)
            }
            if !settings.seccompProfiles.isEmpty {
                try ProfileInstaller.install(settings.seccompProfiles, into: config, paths: paths)
                config.set(["annotations", MonitorSettings.seccompInstalledKey], string: settings.seccompProfiles.joined(separator: ","))
            }
            try file.replace(with: config.json)
        } catch let error as MemguardError {
            throw error.within(container)
        }
    }

    /// Settings of the wrapper's own environment that the hooks must see too.
    static func passedEnvironment() -> [String] {
        let names: [String] = ["MEMGUARD_EXIT_GRACE_MS"]
        return names.compactMap { name in getenv(name).map { "\(name)=\(String(cString: $0))" } }
    }

    /// Where runc is looked for when nothing names the runtime.
    static let runcCandidates = ["/usr/local/sbin/runc", "/usr/local/bin/runc", "/usr/sbin/runc", "/usr/bin/runc", "/sbin/runc", "/bin/runc"]

    /// The runtime to hand over to: MEMGUARD_RUNTIME, else "runtime" in memguard.json, else runc
    /// from the usual paths. Never memguard-runc itself.
    static func realRuntime(paths: MemguardPaths) throws -> String {
        var configured = getenv("MEMGUARD_RUNTIME").flatMap { $0[0] == 0 ? nil : String(cString: $0) }
        if configured == nil { configured = try HostConfig.load(paths: paths).runtime }
        let candidates = configured.map { [$0] } ?? runcCandidates
        guard let runtime = candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw MemguardError("no OCI runtime found (looked at \(candidates.joined(separator: ", "))); install runc or set \"runtime\" in \(paths.configDir)/\(HostConfig.fileName)")
        }
        if let mine = realPath(try selfExecutablePath()), realPath(runtime) == mine {
            throw MemguardError("the configured runtime \(runtime) is memguard itself; point it at runc or crun")
        }
        return runtime
    }

    /// Errors go to stderr, to the container's log (when a container is being started), and,
    /// as runc would write them, to the --log file the shim reads.
    static func report(_ error: Error, invocation: RuncInvocation, paths: MemguardPaths) {
        let message = "memguard-runc: \(error)"
        printError(message)
        if invocation.startsFromBundle, let id = invocation.containerID, let container = try? ContainerID(id) {
            var paths = paths
            _ = try? paths.loadHostConfig()
            var line = EventLog.record(container, event: "wrapper")
            line.add("result", "error")
            line.add("severity", "error")
            line.add("error", "\(error)")
            try? EventLog(paths: paths, container: container).write(line)
        }
        guard let logFile = invocation.logFile,
              let fd = Optional(open(logFile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)), fd >= 0 else { return }
        defer { close(fd) }
        var line = JSONLine()
        line.add("level", "error")
        line.add("msg", message)
        line.add("time", Clock.rfc3339())
        let text = invocation.logFormat == "json" ? line.rendered : "level=error msg=\(message)"
        _ = try? FileSystem.writeAll(fd: fd, Array((text + "\n").utf8), what: logFile)
    }

    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        return getcwd(&buffer, buffer.count) != nil ? String(cString: buffer) : "."
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
