import Foundation
import SchemaRegistry
import XCTest

/// The REST surface: each endpoint's success body and Confluent's error bodies for bad input.
final class RegistryRESTTests: XCTestCase {
    private let api = RegistryREST(service: SchemaRegistryService(store: InMemoryRegistryStore(), maxSchemaBytes: 2048))

    @discardableResult
    private func call(_ method: String, _ path: String, _ body: Any? = nil, query: [String: String] = [:],
                      status: Int = 200, file: StaticString = #filePath, line: UInt = #line) -> Any {
        let bytes = body.map { ($0 as? String).map { Array($0.utf8) } ?? Array(try! JSONSerialization.data(withJSONObject: $0)) } ?? []
        let answer = api.handle(RegistryHTTPRequest(method: method, segments: path.split(separator: "/").map(String.init), query: query, body: bytes))
        let text = String(decoding: answer.body, as: UTF8.self)
        XCTAssertEqual(answer.status, status, "\(method) \(path): \(text)", file: file, line: line)
        return (try? JSONSerialization.jsonObject(with: Data(answer.body), options: [.fragmentsAllowed])) ?? text
    }

    private func errorCode(_ value: Any) -> Int? { (value as? [String: Any])?["error_code"] as? Int }

    private let v1 = ["schemaType": "PROTOBUF", "schema": "syntax = \"proto3\"; message Order { string id = 1; }"]
    private let v2 = ["schemaType": "PROTOBUF", "schema": "syntax = \"proto3\"; message Order { string id = 1; int32 n = 2; }"]
    private let bad = ["schemaType": "PROTOBUF", "schema": "syntax = \"proto3\"; message Order { int64 id = 1; }"]

    func testEndpoints() throws {
        XCTAssertEqual((call("POST", "subjects/orders-value/versions", v1) as? [String: Any])?["id"] as? Int, 1)
        XCTAssertEqual((call("POST", "subjects/orders-value/versions", v2) as? [String: Any])?["version"] as? Int, 2)
        XCTAssertEqual(call("GET", "subjects") as? [String], ["orders-value"])
        XCTAssertEqual(call("GET", "subjects/orders-value/versions") as? [Int], [1, 2])
        let latest = call("GET", "subjects/orders-value/versions/latest") as? [String: Any]
        XCTAssertEqual(latest?["version"] as? Int, 2)
        XCTAssertEqual(latest?["schemaType"] as? String, "PROTOBUF")
        XCTAssertEqual(call("GET", "subjects/orders-value/versions/1/schema") as? String, v1["schema"])
        XCTAssertEqual((call("POST", "subjects/orders-value", v1) as? [String: Any])?["version"] as? Int, 1)
        XCTAssertEqual((call("GET", "schemas/ids/1") as? [String: Any])?["schema"] as? String, v1["schema"])
        let serialized = (call("GET", "schemas/ids/1", query: ["format": "serialized"]) as? [String: Any])?["schema"] as? String
        XCTAssertNotNil(serialized.flatMap { Data(base64Encoded: $0) })
        XCTAssertEqual((call("GET", "schemas/ids/2/versions") as? [[String: Any]])?.first?["version"] as? Int, 2)
        XCTAssertEqual(call("GET", "schemas/ids/2/subjects") as? [String], ["orders-value"])
        XCTAssertEqual(call("GET", "schemas/types") as? [String], ["PROTOBUF"])
        let verdict = call("POST", "compatibility/subjects/orders-value/versions/latest", bad, query: ["verbose": "true"]) as? [String: Any]
        XCTAssertEqual(verdict?["is_compatible"] as? Bool, false)
        XCTAssertFalse((verdict?["messages"] as? [String] ?? []).isEmpty)
        XCTAssertEqual((call("POST", "compatibility/subjects/orders-value/versions", v2) as? [String: Any])?["is_compatible"] as? Bool, true)
        XCTAssertEqual((call("POST", "compatibility/subjects/new/versions/latest", bad) as? [String: Any])?["is_compatible"] as? Bool, true)
        let refused = call("POST", "subjects/orders-value/versions", bad, status: 409)
        XCTAssertEqual(errorCode(refused), 409)
        XCTAssertTrue(((refused as? [String: Any])?["message"] as? String ?? "").contains("details"), "\(refused)")
        XCTAssertEqual((call("GET", "config") as? [String: Any])?["compatibilityLevel"] as? String, "BACKWARD")
        XCTAssertEqual((call("PUT", "config/orders-value", ["compatibility": "none"]) as? [String: Any])?["compatibility"] as? String, "NONE")
        XCTAssertEqual((call("GET", "config/orders-value") as? [String: Any])?["compatibilityLevel"] as? String, "NONE")
        XCTAssertEqual((call("DELETE", "config/orders-value") as? [String: Any])?["compatibilityLevel"] as? String, "NONE")
        XCTAssertEqual((call("GET", "mode") as? [String: Any])?["mode"] as? String, "READWRITE")
        XCTAssertEqual((call("PUT", "mode/orders-value", ["mode": "READONLY"]) as? [String: Any])?["mode"] as? String, "READONLY")
        XCTAssertEqual(errorCode(call("DELETE", "subjects/orders-value", status: 422)), 42205)
        call("DELETE", "mode/orders-value")
        XCTAssertEqual(call("DELETE", "subjects/orders-value/versions/2") as? Int, 2)
        XCTAssertEqual(call("DELETE", "subjects/orders-value") as? [Int], [1])
        XCTAssertEqual(call("DELETE", "subjects/orders-value", query: ["permanent": "True"]) as? [Int], [1, 2])
        XCTAssertEqual(errorCode(call("GET", "associations/resources/-/orders", status: 404)), 40410)
    }

    func testErrorBodies() throws {
        XCTAssertEqual(errorCode(call("GET", "subjects/nope/versions", status: 404)), 40401)
        XCTAssertEqual(errorCode(call("GET", "subjects/nope/versions/0", status: 422)), 42202)
        XCTAssertEqual(errorCode(call("GET", "schemas/ids/42", status: 404)), 40403)
        XCTAssertEqual(errorCode(call("GET", "config/nope", status: 404)), 40408)
        XCTAssertEqual(errorCode(call("PUT", "config", ["compatibility": "SIDEWAYS"], status: 422)), 42203)
        XCTAssertEqual(errorCode(call("PUT", "mode", ["mode": "LATER"], status: 422)), 42204)
        XCTAssertEqual(errorCode(call("POST", "subjects/s/versions", "{not json", status: 400)), 400)
        XCTAssertEqual(errorCode(call("POST", "subjects/s/versions", ["schema": "x", "colour": "red"], status: 422)), 422)
        XCTAssertEqual(errorCode(call("POST", "subjects/s/versions", ["schema": "syntax = \"proto3\"; message {"], status: 422)), 42201)
        let invalid = call("POST", "subjects/s/versions", ["schemaType": "PROTOBUF", "schema": "syntax = \"proto3\";\nmessage A { strng x = 1; }"], status: 422)
        XCTAssertTrue(((invalid as? [String: Any])?["message"] as? String ?? "").contains("line 2:"), "\(invalid)")
        XCTAssertEqual(errorCode(call("POST", "subjects/s/versions", ["schemaType": "PROTOBUF", "schema": String(repeating: "/", count: 4096)], status: 422)), 42209)
        XCTAssertEqual(errorCode(call("GET", "nowhere", status: 404)), 404)
        // After every refusal the registry still serves.
        XCTAssertEqual((call("POST", "subjects/s/versions", v1) as? [String: Any])?["id"] as? Int, 1)
    }
}
