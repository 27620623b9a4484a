#if canImport(Glibc)
import Glibc
#endif

/// Reading the environment and small files, for the modules above Reactor, which are compiled with
/// strict memory safety and so cannot call `getenv` or `read` themselves.
public enum SystemAccess {
    /// The value of environment variable `name`, if set.
    public static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// A small file's bytes and permission bits. Refuses (typed, with the path) a missing file, one
    /// that is not a regular file, or one longer than `limit` bytes.
    public static func readSmallFile(_ path: String, limit: Int = 64 * 1024) throws(ReactorError) -> (bytes: [UInt8], mode: UInt32) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(SystemError(errno, "open")) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .system(SystemError(errno, "fstat")) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .invalidState("not a regular file") }
        guard Int(info.st_size) <= limit else { throw .limitReached(.fileBytes) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw .system(SystemError(count < 0 ? errno : EIO, "read")) }
            done += count
        }
        return (bytes, UInt32(info.st_mode) & 0o7777)
    }
}
