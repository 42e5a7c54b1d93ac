import Glibc
import MemguardCore

/// An OCI bundle for one demo container: a busybox rootfs with memguard's attack program
/// (examples/mg-attack.c) and a config.json from `runc spec`, opted in to memguard.
struct DemoBundle {
    let directory: String
    let id: String

    struct Tools {
        var runc: String
        var busybox: String
        var attack: String
        var memguard: String
    }

    /// `annotations` replaces the opt-in annotations (tests use it for non-opted containers);
    /// `hookEnvironment` is added to the hooks' environment; without `hooks` the bundle is left
    /// for memguard-runc to complete.
    init(parent: String, id: String, tools: Tools, command: [String], mode: MonitorSettings.Mode, paths: MemguardPaths,
         annotations: [String: String]? = nil, hookEnvironment: [String] = [], hooks: Bool = true, memoryLimit: Int64? = nil) throws {
        directory = "\(parent)/\(id)"
        self.id = id
        let rootfs = "\(directory)/rootfs"
        for dir in [rootfs, "\(rootfs)/bin", "\(rootfs)/tmp", "\(rootfs)/proc", "\(rootfs)/dev", "\(rootfs)/sys"] {
            try FileSystem.makeDirectories(dir, mode: 0o755)
        }
        try Self.copy(tools.busybox, to: "\(rootfs)/bin/busybox")
        for applet in ["sh", "sleep", "true", "echo", "cat", "ls", "mkdir"] {
            symlink("busybox", "\(rootfs)/bin/\(applet)")
        }
        try Self.copy(tools.attack, to: "\(rootfs)/mg-attack")
        // The same program under another name: another file, another identity.
        try Self.copy(tools.attack, to: "\(rootfs)/mg-attack-copy")

        let spec = try ProcessRunner.run([tools.runc, "spec", "--bundle", directory], output: "\(parent)/\(id).spec.out")
        guard spec == 0 else { throw MemguardError("runc spec failed (exit \(spec)); see \(parent)/\(id).spec.out") }
        let configPath = "\(directory)/config.json"
        let config = try OCIConfig(bytes: FileSystem.readFile(configPath, limit: OCIConfig.maxSize), what: configPath)
        config.set(["process", "terminal"], bool: false)
        config.set(["process", "args"], strings: command)
        config.set(["root", "readonly"], bool: false)
        if let memoryLimit { config.set(["linux", "resources", "memory", "limit"], int: memoryLimit) }
        let chosen = annotations ?? [MonitorSettings.monitorKey: "true", MonitorSettings.modeKey: mode.rawValue]
        for (key, value) in chosen.sorted(by: { $0.key < $1.key }) {
            config.set(["annotations", key], string: value)
        }
        // What the runtime wrapper injects for opted-in containers: createRuntime + poststop.
        for stage in ["createRuntime", "poststop"] where hooks {
            try config.addHook(stage: stage, path: tools.memguard, args: ["memguard", "hook", stage], env: paths.environment + hookEnvironment, timeout: 30)
        }
        try FileSystem.writeAtomically(configPath, config.json)
    }

    public static func copy(_ source: String, to destination: String) throws {
        let bytes = try FileSystem.readFile(source, limit: 256 << 20)
        let fd = try sys("creating \(destination)") { open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755) }
        defer { close(fd) }
        try FileSystem.writeAll(fd: fd, bytes, what: destination)
    }
}
