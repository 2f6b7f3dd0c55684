import Synchronization
import XCTest
@testable import ZeroMQ

/// DEALER→ROUTER request-reply over tcp loopback.
final class RouterDealerTests: XCTestCase {
    func testRepliesReachTheRightRequesterAmongManyConcurrentOnes() throws {
        let requesters = 16, requestsEach = 200
        let endpoint = Mutex<String?>(nil)
        let server = TestThread("router") {
            let router = try Socket(.router, context: try Context())
            try router.set([.routerMandatory(true), .receiveTimeout(.seconds(10))])
            endpoint.withLock { $0 = try? router.bind(anyLoopbackPort) }
            // Echo each request, prefixed by the routing id the ROUTER saw, to its sender.
            for _ in 0..<(requesters * requestsEach) {
                let request = try router.receiveMultipart()
                guard request.count == 2 else { throw TestFailure("request of \(request.count) frames") }
                try router.send(multipart: [request[0], Frame("reply to " + request[1].string)])
            }
        }
        var bound: String?
        for _ in 0..<1000 where bound == nil {
            bound = endpoint.withLock { $0 }
            usleep(1000)
        }
        guard let address = bound else { throw TestFailure("router did not bind") }

        let clients = (0..<requesters).map { client in
            TestThread("dealer-\(client)") {
                let dealer = try Socket(.dealer, context: try Context())
                try dealer.set(.routingID(Array("client-\(client)".utf8)))
                try dealer.connect(address)
                // Keep several requests in flight: replies must come back to us, in order.
                for batch in stride(from: 0, to: requestsEach, by: 10) {
                    for request in batch..<(batch + 10) { try dealer.send("client-\(client) request \(request)") }
                    for request in batch..<(batch + 10) {
                        let reply = try dealer.receiveStrings(timeout: .seconds(10))
                        guard reply == ["reply to client-\(client) request \(request)"] else {
                            throw TestFailure("client \(client) got \(reply) for request \(request)")
                        }
                    }
                }
            }
        }
        for client in clients { try client.join() }
        try server.join()
    }

    func testRouterMandatoryReportsAnUnknownPeer() throws {
        let router = try Socket(.router, context: try Context())
        try router.set(.routerMandatory(true))
        try router.bind(anyLoopbackPort)
        let error = assertZeroMQError(.hostUnreachable) {
            try router.send(multipart: [Frame("nobody"), Frame("hello")])
        }
        XCTAssertEqual(error?.errno, EHOSTUNREACH)
        XCTAssertTrue(error?.description.contains("ROUTER") ?? false, error?.description ?? "")
    }

    func testDealerRoutingIDIsWhatTheRouterSees() throws {
        let context = try Context()
        let router = try Socket(.router, context: context)
        let endpoint = try router.bind(anyLoopbackPort)
        let dealer = try Socket(.dealer, context: context)
        try dealer.set(.routingID(Array("agent-7".utf8)))
        XCTAssertEqual(try dealer.routingID, Array("agent-7".utf8))
        try dealer.connect(endpoint)
        try dealer.send("hi")
        XCTAssertEqual(try router.receiveStrings(), ["agent-7", "hi"])
    }
}
