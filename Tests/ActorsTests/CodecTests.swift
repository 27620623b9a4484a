import AnsarTestKit
import Testing

@testable import Actors

struct Settings: Codable, Equatable {
    struct Retry: Codable, Equatable {
        var attempts: Int
        var seconds: Double
    }
    var name: String
    var count: UInt16
    var ratio: Float
    var enabled: Bool
    var tags: [String]
    var retry: Retry
    var nickname: String?
    var blob: [UInt8]
    var table: [String: Int]
}

let sample = Settings(
    name: "Gladys", count: 7, ratio: 0.5, enabled: true, tags: ["a", "β"], retry: .init(attempts: 3, seconds: 1.5),
    nickname: nil, blob: [0, 1, 254, 255], table: ["x": -1])

@Suite("Message codec, JSON and Incognito")
struct CodecTests {
    @Test("a nested value survives the wire form and the JSON form")
    func roundTrips() throws {
        let bytes = try WireEncoder.encode(sample)
        #expect(try WireDecoder.decode(Settings.self, from: bytes) == sample)
        let json = try JSON(encoding: sample)
        #expect(json["name"] == .string("Gladys"))
        #expect(json["nickname"] == nil, "nil optionals are left out")
        #expect(json["blob"] == .string("AAH+/w=="), "bytes are base64 in JSON")
        let reparsed = try JSON(parsing: json.pretty)
        #expect(reparsed == json)
        #expect(try reparsed.decode(Settings.self) == sample)
    }

    @Test("decoding errors name the field and the expected type")
    func errorsNameTheField() throws {
        let json = try JSON(
            parsing:
                #"{"name":"x","count":7,"ratio":1,"enabled":true,"tags":[],"retry":{"attempts":"three","seconds":1},"blob":"","table":{}}"#
        )
        #expect(throws: WireError(path: "retry.attempts", problem: "expected an integer, found a string")) {
            try json.decode(Settings.self)
        }
        let negative = try JSON(
            parsing:
                #"{"name":"x","count":-1,"ratio":1,"enabled":true,"tags":[],"retry":{"attempts":1,"seconds":1},"blob":"","table":{}}"#
        )
        #expect(throws: WireError(path: "count", problem: "integer out of range for UInt16")) {
            try negative.decode(Settings.self)
        }
        let missing = try JSON(parsing: #"{"count":1}"#)
        #expect(throws: WireError(path: "name", problem: "missing")) { try missing.decode(Settings.self) }
    }

    @Test(
        "malformed JSON and wire bytes are refused with where and what",
        arguments: [
            (#"{"a":1,}"#, "expected a member name at line 1, column 8"),
            ("[1, 2", "unterminated array at line 1, column 6"),
            (#""\x""#, "bad escape at line 1, column 4"),
            ("99999999999999999999999", "integer 99999999999999999999999 does not fit 64 bits at line 1, column 24"),
            ("{} x", "unexpected text after the value at line 1, column 4"),
        ])
    func badJSON(text: String, problem: String) {
        #expect(throws: WireError(path: "", problem: problem)) { try JSON(parsing: text) }
    }

    @Test("hostile wire bytes: lies about lengths and depth are refused, not trusted")
    func badWire() {
        let lies: [[UInt8]] = [
            [WireTag.string.rawValue, 0xFF, 0x01, 0x41], // length 255 with one byte
            [WireTag.array.rawValue, 0xFF, 0xFF, 0xFF, 0x7F], // two billion items
            // Ends early.
            Array(repeating: WireTag.array.rawValue, count: 1) + [1, 0, 0, 0] + Array(repeating: 0, count: 0),
            [0x7F], // unknown tag
            Array((0..<200).flatMap { _ in [WireTag.array.rawValue, 1, 0, 0, 0] }) + [0], // too deep
        ]
        for bytes in lies {
            #expect(throws: WireError.self) { _ = try JSON(wire: bytes) }
        }
    }

    @Test("an unknown type arrives as Incognito, prints its fields and re-encodes to the same bytes")
    func incognito() throws {
        struct Secretive: Message {
            static let typeName = "elsewhere.Secretive"
            var code: Int
            var words: [String]
        }
        let fields = try WireEncoder.encode(Secretive(code: 42, words: ["a", "b"]))
        let incognito = try Incognito(typeName: "elsewhere.Secretive", wireFields: fields, resolver: nil)
        #expect(
            incognito.fields == .object([("code", .integer(42)), ("words", .array([.string("a"), .string("b")]))]))
        #expect(Printing.human(incognito) == "elsewhere.Secretive\n  code: 42\n  words: [\"a\",\"b\"]")
        #expect(try incognito.fields(for: nil) == fields)
        // Inside another message it keeps its own type name.
        let completed = try WireEncoder.encode(Completed(incognito))
        let back = try WireDecoder.decode(Completed.self, from: completed)
        #expect((back.value as? Incognito)?.typeName == "elsewhere.Secretive")
        #expect((back.value as? Incognito)?.fields == incognito.fields)
    }

    @Test("type names default to module and type, and can be set")
    func typeNames() {
        #expect(Ping.typeName == "ActorsTests.Ping")
        #expect(Welcome.typeName == "hello_welcome.Welcome")
        #expect(MessageType.identifier(of: "a") != MessageType.identifier(of: "b"))
        #expect(MessageRegistry.register(Welcome.self))
        #expect(MessageRegistry.type(named: "hello_welcome.Welcome") == Welcome.self)
    }

    @Test("human and JSON output of a message")
    func printing() {
        let welcome = Welcome(myName: "Buster", yourName: "Gladys")
        #expect(Printing.human(welcome) == "hello_welcome.Welcome\n  myName: \"Buster\"\n  yourName: \"Gladys\"")
        #expect(
            Printing.json(welcome).description
                == #"{"type":"hello_welcome.Welcome","value":{"myName":"Buster","yourName":"Gladys"}}"#)
    }

    /// The same message twice: one with hand-written fields, one through Codable.
    struct Handmade: Message, Equatable {
        static let typeName = "test.Sample"
        var sequence: Int
        var payload: [UInt8]
        var note: String
        func writeFields(to writer: inout MessageWriter) throws {
            writer.field("sequence", sequence)
            writer.field("payload", payload)
            writer.field("note", note)
        }
        init(sequence: Int, payload: [UInt8], note: String) {
            self.sequence = sequence
            self.payload = payload
            self.note = note
        }
        init(fields reader: inout MessageReader) throws {
            payload = try reader.bytes("payload") // any order
            sequence = try reader.int("sequence")
            note = try reader.string("note")
        }
    }
    struct Derived: Message, Equatable {
        static let typeName = "test.Sample"
        var sequence: Int
        var payload: [UInt8]
        var note: String
    }

    @Test("hand-written fields and Codable fields are the same bytes, read either way")
    func handwritten() throws {
        let handmade = Handmade(sequence: -7, payload: [1, 2, 3], note: "hi")
        var writer = MessageWriter(reusing: [], translator: nil)
        try handmade.writeFields(to: &writer)
        let bytes = writer.finish()
        #expect(bytes == (try WireEncoder.encode(Derived(sequence: -7, payload: [1, 2, 3], note: "hi"))))
        var reader = try MessageReader(bytes, resolver: nil)
        #expect(try Handmade(fields: &reader) == handmade)
        var codable = try MessageReader(bytes, resolver: nil)
        #expect(try Derived(fields: &codable) == Derived(sequence: -7, payload: [1, 2, 3], note: "hi"))
        // Errors name the field.
        var wrong = try MessageReader(try WireEncoder.encode(Hello(name: "x")), resolver: nil)
        #expect(throws: WireError(path: "payload", problem: "missing")) { try Handmade(fields: &wrong) }
        var mistyped = try MessageReader(try WireEncoder.encode(Ping(sequence: 1)), resolver: nil)
        #expect(throws: WireError(path: "sequence", problem: "expected a string, found an integer")) {
            try mistyped.string("sequence")
        }
        #expect(throws: WireError.self) { _ = try MessageReader(bytes + [0], resolver: nil) }
    }
}
