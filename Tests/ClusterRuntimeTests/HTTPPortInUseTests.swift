import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A node whose HTTP address is taken says which address, and stops (exit 1).
final class HTTPPortInUseTests: XCTestCase {
    func testAnHTTPAddressInUseIsNamed() throws {
        let directory = NSTemporaryDirectory() + "ganglion-http-in-use-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A listener holding a loopback port.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                guard bind(listener, $0, length) == 0, listen(listener, 1) == 0, getsockname(listener, $0, &length) == 0 else {
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EINVAL)  // no loopback listener: the test fails
                }
            }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let (status, output) = try runProcess(URL(fileURLWithPath: "/usr/bin/timeout"), [
            "30", try ganglionExecutable(self).path, "node", "--data-dir", directory, "--api", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0",
            "--http", "127.0.0.1:\(port)", "--no-demo",
        ])
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("127.0.0.1:\(port)") && output.contains("in use") && output.contains("--http"), output)
    }
}
