import CLibBPF
import CMemguardABI
import CShims
import Glibc
import MemguardCore

/// The one shared, pinned set of memguard programs and maps. The first monitored container
/// loads it, later ones only add map entries, the last one out unloads it. Callers hold the
/// probe lock (`MemguardPaths.lockFile`) around `ensureLoaded` and `unloadIfUnused`.
public final class ProbeSet {
    public let scopes: BPFMap
    public let rings: BPFMap
    public let runtimes: BPFMap
    public let config: BPFMap
    public let allow: BPFMap
    public let pinDir: String

    /// Programs in bpf/memguard.bpf.c, each attached and its link pinned as link_<name>.
    public static let programNames = ["mg_sys_enter", "mg_sys_exit", "mg_exec"]
    static let pinnedMaps = ["mg_scopes", "mg_rings", "mg_runtimes", "mg_config", "mg_allow"]

    private init(pinDir: String) throws {
        self.pinDir = pinDir
        scopes = try BPFMap(pinned: "\(pinDir)/mg_scopes")
        rings = try BPFMap(pinned: "\(pinDir)/mg_rings")
        runtimes = try BPFMap(pinned: "\(pinDir)/mg_runtimes")
        config = try BPFMap(pinned: "\(pinDir)/mg_config")
        allow = try BPFMap(pinned: "\(pinDir)/mg_allow")
        // A set pinned by another memguard build with another layout must not be written to.
        let valueSize = scopes.valueSize
        guard valueSize == MemoryLayout<mg_scope>.size else {
            throw MemguardError("map \(pinDir)/mg_scopes has \(valueSize)-byte values, this memguard expects \(MemoryLayout<mg_scope>.size)")
        }
    }

    /// Allows the executable of process `pid` (the container runtime that ran the hook) to
    /// re-execute itself from a memfd:runc_cloned copy inside monitored containers.
    public func allowRuntime(pid: Int32) throws {
        let exe = try FileSystem.inode(of: "/proc/\(pid)/exe")
        var id = mg_exe_id()
        id.ino = exe.ino
        id.dev = ContainerRootfs.kernelDevice(exe.dev)
        try runtimes.update(key: id, value: UInt8(1))
    }

    static func pins(_ pinDir: String) -> [String] {
        programNames.map { "\(pinDir)/link_\($0)" } + pinnedMaps.map { "\(pinDir)/\($0)" }
    }

    /// The pinned set, or nil when it is not loaded.
    public static func openPinned(paths: MemguardPaths) throws -> ProbeSet? {
        let present = pins(paths.pinDir).filter(FileSystem.exists)
        if present.isEmpty { return nil }
        guard present.count == pins(paths.pinDir).count else {
            throw MemguardError("the pinned probe set in \(paths.pinDir) is incomplete (has \(present.map { String($0.split(separator: "/").last!) }))")
        }
        return try ProbeSet(pinDir: paths.pinDir)
    }

    /// Opens the pinned set, loading and pinning it first if needed. A half-pinned set left by
    /// a crash is removed and loaded again.
    public static func ensureLoaded(paths: MemguardPaths) throws -> (probes: ProbeSet, loaded: Bool) {
        try BPFFilesystem.prepare(pinDir: paths.pinDir)
        do {
            if let probes = try openPinned(paths: paths) { return (probes, false) }
        } catch {
            // A half-pinned set (a crash during load) is replaced, but never one that still
            // watches containers: removing it would end their monitoring silently.
            if let scopes = try? BPFMap(pinned: "\(paths.pinDir)/mg_scopes"), !scopes.keys(UInt64.self).isEmpty {
                throw MemguardError("the probe set pinned in \(paths.pinDir) does not match this memguard (\(error)) and still watches \(scopes.keys(UInt64.self).count) container(s); stop them before upgrading")
            }
            try removePins(paths: paths)
        }
        try load(paths: paths)
        return (try ProbeSet(pinDir: paths.pinDir), true)
    }

    /// Loads the programs into the kernel and frees them again, attaching nothing: whether this
    /// kernel accepts memguard's probes (the verifier, CO-RE relocation, tp_btf targets).
    public static func checkLoad(paths: MemguardPaths) throws {
        let object = try openAndLoad(paths: paths)
        bpf_object__close(object)
    }

    /// The embedded object, opened (CO-RE against the kernel's BTF) and loaded; the caller
    /// closes it. The verifier's complaints, if any, are in the error.
    private static func openAndLoad(paths: MemguardPaths) throws -> OpaquePointer {
        guard access(paths.btfPath, R_OK) == 0 else {
            throw MemguardError("kernel BTF not found at \(paths.btfPath): memguard's CO-RE probes need a kernel built with CONFIG_DEBUG_INFO_BTF", errno: .current)
        }
        var bytes = try EmbeddedProbes.object()
        mg_libbpf_capture_logs()
        mg_libbpf_log_clear()
        let btf = paths.btfPath == MemguardPaths().btfPath ? nil : paths.btfPath
        guard let object = bytes.withUnsafeMutableBytes({ mg_bpf_object_open($0.baseAddress, $0.count, "memguard", btf) }) else {
            throw MemguardError("opening the embedded probe object", errno: .current, detail: libbpfLog())
        }
        let rc = bpf_object__load(object)
        if rc < 0 {
            bpf_object__close(object)
            throw MemguardError("loading memguard's probes into the kernel", errno: Errno(-rc), detail: libbpfLog())
        }
        return object
    }

    private static func load(paths: MemguardPaths) throws {
        let object = try openAndLoad(paths: paths)
        defer { bpf_object__close(object) }
        try FileSystem.makeDirectories(paths.pinDir, mode: 0o700)
        do {
            for name in programNames {
                guard let program = bpf_object__find_program_by_name(object, name) else {
                    throw MemguardError("program \(name) is missing from the probe object")
                }
                guard let link = bpf_program__attach(program) else {
                    throw MemguardError("attaching \(name)", errno: .current, detail: libbpfLog())
                }
                defer { bpf_link__destroy(link) }
                try negErrno("pinning link of \(name) at \(paths.pinDir)", bpf_link__pin(link, "\(paths.pinDir)/link_\(name)"))
                bpf_link__disconnect(link)
            }
            for name in pinnedMaps {
                guard let map = bpf_object__find_map_by_name(object, name) else {
                    throw MemguardError("map \(name) is missing from the probe object")
                }
                try negErrno("pinning map \(name) at \(paths.pinDir)", bpf_map__pin(map, "\(paths.pinDir)/\(name)"))
            }
        } catch {
            try? removePins(paths: paths)
            throw error
        }
    }

    /// Unloads the set when no container is registered any more. Returns true if it did.
    @discardableResult
    public static func unloadIfUnused(paths: MemguardPaths) throws -> Bool {
        guard let probes = try? openPinned(paths: paths) else {
            try removePins(paths: paths)
            return false
        }
        guard probes.registeredContainers().isEmpty else { return false }
        try removePins(paths: paths)
        return true
    }

    /// Removes every pin (links first, so the programs stop before their maps go) and the pin
    /// directory. The kernel frees each object when its last pin and fd are gone.
    public static func removePins(paths: MemguardPaths) throws {
        for pin in pins(paths.pinDir) {
            try FileSystem.removeFile(pin)
        }
        if rmdir(paths.pinDir) != 0 && errno != ENOENT {
            throw MemguardError("removing pin directory \(paths.pinDir) (something else is pinned there?)", errno: .current)
        }
    }

    /// Cgroup ids of the containers registered now.
    public func registeredContainers() -> [UInt64] {
        scopes.keys(UInt64.self)
    }

    static func libbpfLog() -> String {
        String(cString: mg_libbpf_log()).split(separator: "\n").suffix(12).joined(separator: " | ")
    }
}
