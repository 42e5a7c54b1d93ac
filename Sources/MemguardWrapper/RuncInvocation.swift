import Glibc
import MemguardCore

/// The parts of a runc command line memguard-runc needs: the command, and for the commands
/// that start a container from a bundle (create, run, restore) the bundle and container id.
/// Everything is passed on to the real runtime unchanged.
struct RuncInvocation: Equatable {
    var command: String?
    var bundle: String?
    var containerID: String?
    /// --log and --log-format, so errors can be reported where the shim reads them.
    var logFile: String?
    var logFormat: String?
    /// create, run or restore: the bundle's config.json (and its hooks) will be read.
    var startsFromBundle = false

    init(arguments: [String]) {
        var found = RuncArguments()
        withCStrings(arguments) { argv in
            argv.withUnsafeBufferPointer { found = RuncArguments(argc: arguments.count, argv: $0.baseAddress!) }
            command = found.command.map { String(cString: $0) }
            bundle = found.bundle.map { String(cString: $0) }
            containerID = found.containerID.map { String(cString: $0) }
            logFile = found.logFile.map { String(cString: $0) }
            logFormat = found.logFormat.map { String(cString: $0) }
            startsFromBundle = found.startsFromBundle
        }
    }
}

/// runc's command line read in place, as C strings: the one parser behind both the
/// pass-through (which must not pay for Swift strings and arrays) and RuncInvocation. Each
/// field points into argv (at the value after "=" for --flag=value).
struct RuncArguments {
    var command: UnsafePointer<CChar>?
    var bundle: UnsafePointer<CChar>?
    var containerID: UnsafePointer<CChar>?
    var logFile: UnsafePointer<CChar>?
    var logFormat: UnsafePointer<CChar>?

    init() {}

    /// `argv` holds the runtime's arguments only (no program name).
    init(argc: Int, argv: UnsafePointer<UnsafeMutablePointer<CChar>?>) {
        var i = 0
        // Global flags, up to the command (urfave/cli takes -flag and --flag, =value too).
        while i < argc, let arg = argv[i], arg[0] == 0x2D {
            let flag = Flag(arg)
            var value = flag.inline
            if flag.isGlobalValueFlag, value == nil, i + 1 < argc {
                value = UnsafePointer(argv[i + 1])
                i += 1
            }
            if flag.is("log") { logFile = value }
            if flag.is("log-format") { logFormat = value }
            i += 1
        }
        guard i < argc, let name = argv[i] else { return }
        command = UnsafePointer(name)
        i += 1
        guard startsFromBundle else { return }
        while i < argc, let arg = argv[i] {
            if strcmp(arg, "--") == 0 {
                if i + 1 < argc, containerID == nil { containerID = UnsafePointer(argv[i + 1]) }
                break
            }
            if arg[0] == 0x2D {
                let flag = Flag(arg)
                var value = flag.inline
                if flag.isCommandValueFlag, value == nil, i + 1 < argc {
                    value = UnsafePointer(argv[i + 1])
                    i += 1
                }
                if flag.is("bundle") || flag.is("b") { bundle = value }
            } else if containerID == nil {
                containerID = UnsafePointer(arg)
            }
            i += 1
        }
    }

    /// The commands that start a container from a bundle's config.json, running its hooks
    /// (restore too: a checkpointed container comes back through createRuntime).
    var startsFromBundle: Bool {
        guard let command else { return false }
        return strcmp(command, "create") == 0 || strcmp(command, "run") == 0 || strcmp(command, "restore") == 0
    }

    /// "--name=value" -> name and value; "-name" -> name.
    struct Flag {
        let name: UnsafePointer<CChar>
        let length: Int
        let inline: UnsafePointer<CChar>?

        init(_ arg: UnsafePointer<CChar>) {
            var start = arg
            while start[0] == 0x2D { start += 1 }
            name = start
            if let eq = strchr(start, 0x3D) {
                length = UnsafePointer(eq) - start
                inline = UnsafePointer(eq) + 1
            } else {
                length = strlen(start)
                inline = nil
            }
        }

        func `is`(_ other: StaticString) -> Bool {
            other.utf8CodeUnitCount == length && memcmp(name, other.utf8Start, length) == 0
        }

        /// runc's global flags that take a value.
        var isGlobalValueFlag: Bool { self.is("log") || self.is("log-format") || self.is("root") || self.is("criu") || self.is("rootless") }
        /// create/run/restore flags that take a value.
        var isCommandValueFlag: Bool {
            self.is("bundle") || self.is("b") || self.is("console-socket") || self.is("pid-file") || self.is("preserve-fds")
                || self.is("image-path") || self.is("work-path") || self.is("manage-cgroups-mode") || self.is("empty-ns")
                || self.is("lsm-profile") || self.is("lsm-mount-context")
        }
    }
}
