import CLibBPF
import CMemguardABI
import MemguardProbes
import Testing

/// The event ABI is compiled twice: for the kernel (clang -target bpf, in the embedded
/// object) and for Swift (the CMemguardABI module). This reads the layout the kernel side
/// was built with from the object's BTF and compares it with what Swift reads.
@Suite("Event ABI shared by the kernel programs and Swift")
struct EventABITests {
    struct Layout: Equatable {
        var size: Int
        var offsets: [String: Int]
    }

    static func kernelLayout(of name: String) throws -> Layout {
        var bytes = try EmbeddedProbes.object()
        let object = try #require(bytes.withUnsafeMutableBytes { raw in
            bpf_object__open_mem(raw.baseAddress, raw.count, nil)
        }, "the embedded probe object must open")
        defer { bpf_object__close(object) }
        let btf = try #require(bpf_object__btf(object))
        let id = btf__find_by_name_kind(btf, name, UInt32(BTF_KIND_STRUCT))
        try #require(id > 0, "struct \(name) must be in the object's BTF")
        let type = try #require(btf__type_by_id(btf, UInt32(id)))
        var offsets: [String: Int] = [:]
        let members = btf_members(type)!
        for index in 0..<Int(btf_vlen(type)) {
            let member = members[index]
            let memberName = String(cString: btf__name_by_offset(btf, member.name_off))
            offsets[memberName] = Int(btf_member_bit_offset(type, UInt32(index))) / 8
        }
        return Layout(size: Int(type.pointee.size), offsets: offsets)
    }

    @Test func eventLayoutMatches() throws {
        let fields: [String: PartialKeyPath<mg_event>] = [
            "time_ns": \.time_ns, "cgroup_id": \.cgroup_id, "addr": \.addr, "len": \.len, "exe_ino": \.exe_ino,
            "exe_dev": \.exe_dev, "kind": \.kind, "action": \.action, "pid": \.pid, "tid": \.tid, "ns_pid": \.ns_pid,
            "ns_tid": \.ns_tid, "target_pid": \.target_pid, "prot": \.prot, "old_prot": \.old_prot, "vma": \.vma,
            "flags": \.flags, "syscall_nr": \.syscall_nr, "uid": \.uid, "personality": \.personality, "asked_prot": \.asked_prot,
            "exe_parents_n": \.exe_parents_n, "pad": \.pad, "exe_parents": \.exe_parents, "comm": \.comm, "exe_name": \.exe_name, "path": \.path,
        ]
        let swift = Layout(size: MemoryLayout<mg_event>.size,
                           offsets: fields.mapValues { MemoryLayout<mg_event>.offset(of: $0)! })
        #expect(try Self.kernelLayout(of: "mg_event") == swift)
    }

    @Test func scopeLayoutMatches() throws {
        let fields: [String: PartialKeyPath<mg_scope>] = [
            "pidns_inum": \.pidns_inum, "pidns_level": \.pidns_level, "mode": \.mode, "ring_slot": \.ring_slot,
            "mmap_calls": \.mmap_calls, "mprotect_calls": \.mprotect_calls, "events": \.events, "lost": \.lost,
            "no_ring": \.no_ring, "foreign_pidns": \.foreign_pidns, "allowed_runtime_exec": \.allowed_runtime_exec,
            "flags": \.flags, "enforce_action": \.enforce_action, "syscalls": \.syscalls,
            "spray_window_ns": \.spray_window_ns, "spray_max_maps": \.spray_max_maps, "spray_max_bytes": \.spray_max_bytes,
            "window_start_ns": \.window_start_ns, "window_maps": \.window_maps, "window_bytes": \.window_bytes,
            "window_alerted": \.window_alerted, "allowed_wx": \.allowed_wx, "anon_maps": \.anon_maps, "anon_bytes": \.anon_bytes,
            "unjudged_writes": \.unjudged_writes,
        ]
        let swift = Layout(size: MemoryLayout<mg_scope>.size,
                           offsets: fields.mapValues { MemoryLayout<mg_scope>.offset(of: $0)! })
        #expect(try Self.kernelLayout(of: "mg_scope") == swift)
    }

    @Test func everyKindHasAName() {
        #expect(EventKind.allCases.count == EventKind.count - 1)
        #expect(Set(EventKind.allCases.map(\.name)).count == EventKind.allCases.count)
        for kind in EventKind.allCases {
            #expect(EventKind(name: kind.name) == kind)
        }
    }

    @Test func theEmbeddedObjectHasEveryProgram() throws {
        var bytes = try EmbeddedProbes.object()
        let object = try #require(bytes.withUnsafeMutableBytes { bpf_object__open_mem($0.baseAddress, $0.count, nil) })
        defer { bpf_object__close(object) }
        for name in ProbeSet.programNames {
            #expect(bpf_object__find_program_by_name(object, name) != nil, "\(name)")
        }
    }
}
