import CLibBPF
import Glibc

/// memguard's objects currently in the kernel, found by name (every program and map is named
/// with the prefix `mg_`): the leak check used by the demo, the tests and `memguard doctor`.
public struct KernelObjects: Equatable, CustomStringConvertible {
    public var programs: [String] = []
    public var maps: [String] = []
    public var links: Int = 0

    public static let prefix = "mg_"

    public init() {}

    public var isEmpty: Bool { programs.isEmpty && maps.isEmpty && links == 0 }

    public var description: String {
        isEmpty ? "none" : "programs \(programs), maps \(maps), links \(links)"
    }

    public static func current() -> KernelObjects {
        var found = KernelObjects()
        var memguardProgramIDs: Set<UInt32> = []
        walk(next: bpf_prog_get_next_id, open: bpf_prog_get_fd_by_id) { fd in
            var info = bpf_prog_info()
            var len = UInt32(MemoryLayout<bpf_prog_info>.size)
            guard bpf_obj_get_info_by_fd(fd, &info, &len) == 0 else { return }
            let name = withUnsafeBytes(of: info.name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name.hasPrefix(prefix) {
                found.programs.append(name)
                memguardProgramIDs.insert(info.id)
            }
        }
        walk(next: bpf_map_get_next_id, open: bpf_map_get_fd_by_id) { fd in
            var info = bpf_map_info()
            var len = UInt32(MemoryLayout<bpf_map_info>.size)
            guard bpf_obj_get_info_by_fd(fd, &info, &len) == 0 else { return }
            let name = withUnsafeBytes(of: info.name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name.hasPrefix(prefix) { found.maps.append(name) }
        }
        walk(next: bpf_link_get_next_id, open: bpf_link_get_fd_by_id) { fd in
            var info = bpf_link_info()
            var len = UInt32(MemoryLayout<bpf_link_info>.size)
            guard bpf_obj_get_info_by_fd(fd, &info, &len) == 0 else { return }
            if memguardProgramIDs.contains(info.prog_id) { found.links += 1 }
        }
        found.programs.sort()
        found.maps.sort()
        return found
    }

    private static func walk(next: (UInt32, UnsafeMutablePointer<UInt32>?) -> Int32,
                             open: (UInt32) -> Int32, _ body: (Int32) -> Void) {
        var id: UInt32 = 0
        while next(id, &id) == 0 {
            let fd = open(id)
            if fd < 0 { continue }
            body(fd)
            close(fd)
        }
    }
}
