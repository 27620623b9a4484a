/// A search pattern compiled for matching service names in time linear in the name: the regular
/// expressions of POSIX ERE that make sense for names, run as a Thompson automaton (every
/// alternative at once, never backtracking). A pattern from another process — `(a|aa)+$` against
/// a long name, say — cannot make a directory spin: a match costs at most the name's length times
/// the pattern's size, both bounded.
///
/// The syntax: letters, digits and `-_/` stand for themselves; `.` is any character; `\` makes
/// the next character literal (`\.`), `\d` a digit, `\w` a letter, digit or `_`; `[…]` a set, with
/// ranges (`a-z`), `^` to negate, and those escapes; `( … )` a group, `|` alternatives; `*`, `+`,
/// `?`, `{m}`, `{m,}` and `{m,n}` repeat (m, n ≤ 255). The whole name must match: `^` at the start
/// and `$` at the end are allowed and change nothing. Anything else is refused with where it is.
struct NamePattern: Sendable {
    /// The most of a pattern's text, as of a name.
    static let maximumLength = ServiceName.maximumLength
    /// The most instructions a compiled pattern holds (counted repetition multiplies them).
    static let maximumSize = 1_024

    /// One step of the automaton.
    private enum Instruction: Sendable {
        /// Consume a character in the set, then go on.
        case character(CharacterSet128)
        /// Go on at both.
        case split(Int, Int)
        case jump(Int)
        case match
    }

    private let program: [Instruction]

    init(_ text: String) throws(NameError) {
        guard !text.isEmpty, text.utf8.count <= Self.maximumLength else {
            throw NameError(description: "a pattern must be 1 to \(Self.maximumLength) bytes")
        }
        var parser = Parser(bytes: Array(text.utf8), text: text)
        let tree = try parser.parseWhole()
        var program: [Instruction] = []
        try Self.emit(tree, into: &program)
        program.append(.match)
        self.program = program
    }

    /// Whether the whole of `name` matches.
    func matches(_ name: String) -> Bool {
        var current = ThreadList(count: program.count)
        var next = ThreadList(count: program.count)
        add(0, to: &current)
        for byte in name.utf8 {
            next.clear()
            for pc in current.active {
                if case .character(let set) = program[pc], set.contains(byte) { add(pc + 1, to: &next) }
            }
            guard !next.active.isEmpty else { return false }
            swap(&current, &next)
        }
        return current.active.contains { if case .match = program[$0] { true } else { false } }
    }

    /// Adds `pc` and what it reaches without consuming (each once per step, so empty loops end).
    private func add(_ pc: Int, to list: inout ThreadList) {
        var stack = [pc]
        while let pc = stack.popLast() {
            guard list.insert(pc) else { continue }
            switch program[pc] {
            case .split(let first, let second):
                stack.append(second)
                stack.append(first)
            case .jump(let target): stack.append(target)
            case .character, .match: break
            }
        }
    }

    // MARK: Compiling

    private indirect enum Node {
        case set(CharacterSet128)
        case sequence([Node])
        case either(Node, Node)
        /// `minimum` to `maximum` (nil: any number) times.
        case repeated(Node, minimum: Int, maximum: Int?)
    }

    private static func emit(_ node: Node, into program: inout [Instruction]) throws(NameError) {
        guard program.count < maximumSize else {
            throw NameError(
                description: "pattern too complex (over \(maximumSize) steps once its repetitions are counted)")
        }
        switch node {
        case .set(let set):
            program.append(.character(set))
        case .sequence(let nodes):
            for node in nodes { try emit(node, into: &program) }
        case .either(let first, let second):
            let split = program.count
            program.append(.split(split + 1, 0))
            try emit(first, into: &program)
            let jump = program.count
            program.append(.jump(0))
            program[split] = .split(split + 1, program.count)
            try emit(second, into: &program)
            program[jump] = .jump(program.count)
        case .repeated(let inner, let minimum, let maximum):
            for _ in 0..<minimum { try emit(inner, into: &program) }
            if let maximum {
                // Each optional copy may be skipped to the end.
                var skips: [Int] = []
                for _ in minimum..<maximum {
                    skips.append(program.count)
                    program.append(.split(program.count + 1, 0))
                    try emit(inner, into: &program)
                }
                for skip in skips { program[skip] = .split(skip + 1, program.count) }
            } else {
                let loop = program.count
                program.append(.split(loop + 1, 0))
                try emit(inner, into: &program)
                program.append(.jump(loop))
                program[loop] = .split(loop + 1, program.count)
            }
        }
    }

    private struct Parser {
        let bytes: [UInt8]
        let text: String
        var position = 0

        mutating func parseWhole() throws(NameError) -> Node {
            if peek == UInt8(ascii: "^") { position += 1 }
            let node = try parseAlternatives()
            if peek == UInt8(ascii: "$") && position == bytes.count - 1 { position += 1 }
            guard position == bytes.count else { throw refusal("unexpected \(describe(bytes[position]))") }
            return node
        }

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

        func refusal(_ what: String) -> NameError {
            NameError(description: "pattern \"\(text)\": \(what) at byte \(position + 1)")
        }

        func describe(_ byte: UInt8) -> String { "\"\(Character(Unicode.Scalar(byte)))\"" }

        mutating func parseAlternatives() throws(NameError) -> Node {
            var node = try parseSequence()
            while peek == UInt8(ascii: "|") {
                position += 1
                node = .either(node, try parseSequence())
            }
            return node
        }

        mutating func parseSequence() throws(NameError) -> Node {
            var nodes: [Node] = []
            while let byte = peek, byte != UInt8(ascii: "|"), byte != UInt8(ascii: ")") {
                if byte == UInt8(ascii: "$") && position == bytes.count - 1 { break }
                nodes.append(try parseRepetitions(try parseAtom()))
            }
            return .sequence(nodes)
        }

        mutating func parseRepetitions(_ atom: Node) throws(NameError) -> Node {
            var node = atom
            while let byte = peek {
                switch byte {
                case UInt8(ascii: "*"): node = .repeated(node, minimum: 0, maximum: nil)
                case UInt8(ascii: "+"): node = .repeated(node, minimum: 1, maximum: nil)
                case UInt8(ascii: "?"): node = .repeated(node, minimum: 0, maximum: 1)
                case UInt8(ascii: "{"):
                    position += 1
                    let minimum = try parseCount()
                    var maximum: Int? = minimum
                    if peek == UInt8(ascii: ",") {
                        position += 1
                        maximum = peek == UInt8(ascii: "}") ? nil : try parseCount()
                    }
                    guard peek == UInt8(ascii: "}") else { throw refusal("a repetition {m,n} not closed") }
                    if let maximum, maximum < minimum { throw refusal("a repetition {m,n} with n below m") }
                    node = .repeated(node, minimum: minimum, maximum: maximum)
                default: return node
                }
                position += 1
            }
            return node
        }

        mutating func parseCount() throws(NameError) -> Int {
            var value = 0
            var digits = 0
            while let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
                position += 1
                guard value <= ServiceName.maximumLength else { throw refusal("a repetition count over 255") }
            }
            guard digits > 0 else { throw refusal("a repetition {m,n} without a number") }
            return value
        }

        mutating func parseAtom() throws(NameError) -> Node {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "("):
                let inner = try parseAlternatives()
                guard peek == UInt8(ascii: ")") else { throw refusal("a group not closed") }
                position += 1
                return inner
            case UInt8(ascii: "["):
                return .set(try parseSet())
            case UInt8(ascii: "."):
                return .set(.any)
            case UInt8(ascii: "\\"):
                return .set(try parseEscape())
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"):
                position -= 1
                throw refusal("a repetition of nothing")
            case UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: "^"), UInt8(ascii: "$"):
                position -= 1
                throw refusal("unexpected \(describe(byte)) (escape it with \\)")
            default:
                guard byte < 0x80, byte > 0x20 else {
                    position -= 1
                    throw refusal("a character no name holds")
                }
                return .set(CharacterSet128(byte))
            }
        }

        mutating func parseEscape() throws(NameError) -> CharacterSet128 {
            guard let byte = peek else { throw refusal("a \\ at the end") }
            position += 1
            switch byte {
            case UInt8(ascii: "d"): return .digits
            case UInt8(ascii: "w"): return .word
            default:
                guard byte < 0x80, !CharacterSet128.word.contains(byte) else {
                    position -= 1
                    throw refusal("an unknown escape \\\(Character(Unicode.Scalar(byte)))")
                }
                return CharacterSet128(byte)
            }
        }

        mutating func parseSet() throws(NameError) -> CharacterSet128 {
            var set = CharacterSet128()
            let negated = peek == UInt8(ascii: "^")
            if negated { position += 1 }
            var first = true
            while let byte = peek, byte != UInt8(ascii: "]") || first {
                first = false
                position += 1
                var low = byte
                if byte == UInt8(ascii: "\\") {
                    let escaped = try parseEscape()
                    guard let single = escaped.single else {
                        set.formUnion(escaped)
                        continue
                    }
                    low = single
                }
                guard low < 0x80 else { throw refusal("a character no name holds") }
                if peek == UInt8(ascii: "-"), position + 1 < bytes.count, bytes[position + 1] != UInt8(ascii: "]") {
                    position += 1
                    var high = bytes[position]
                    position += 1
                    if high == UInt8(ascii: "\\") {
                        guard let single = try parseEscape().single else { throw refusal("a range to a class") }
                        high = single
                    }
                    guard high < 0x80, low <= high else { throw refusal("a range backwards") }
                    for value in low...high { set.insert(value) }
                } else {
                    set.insert(low)
                }
            }
            guard peek == UInt8(ascii: "]") else { throw refusal("a set [ … ] not closed") }
            position += 1
            return negated ? set.inverted : set
        }
    }
}

/// A set of ASCII characters (names hold nothing else).
struct CharacterSet128: Sendable, Equatable {
    private var low: UInt64 = 0
    private var high: UInt64 = 0

    init() {}

    init(_ byte: UInt8) { insert(byte) }

    static let any = CharacterSet128().inverted
    static let digits: CharacterSet128 = {
        var set = CharacterSet128()
        for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { set.insert(byte) }
        return set
    }()
    static let word: CharacterSet128 = {
        var set = digits
        for byte in UInt8(ascii: "a")...UInt8(ascii: "z") { set.insert(byte) }
        for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { set.insert(byte) }
        set.insert(UInt8(ascii: "_"))
        return set
    }()

    func contains(_ byte: UInt8) -> Bool {
        byte < 64 ? low & (1 << UInt64(byte)) != 0 : byte < 128 && high & (1 << UInt64(byte - 64)) != 0
    }

    mutating func insert(_ byte: UInt8) {
        if byte < 64 { low |= 1 << UInt64(byte) } else if byte < 128 { high |= 1 << UInt64(byte - 64) }
    }

    mutating func formUnion(_ other: CharacterSet128) {
        low |= other.low
        high |= other.high
    }

    var inverted: CharacterSet128 {
        var set = CharacterSet128()
        set.low = ~low
        set.high = ~high
        return set
    }

    /// The one character in the set, if it holds exactly one.
    var single: UInt8? {
        guard low.nonzeroBitCount + high.nonzeroBitCount == 1 else { return nil }
        return low != 0 ? UInt8(low.trailingZeroBitCount) : UInt8(64 + high.trailingZeroBitCount)
    }
}

/// The automaton's live states for one step: each at most once, in the order added.
private struct ThreadList {
    private(set) var active: [Int] = []
    private var marked: [Bool]

    init(count: Int) {
        marked = Array(repeating: false, count: count)
        active.reserveCapacity(count)
    }

    /// False if `pc` is already in the list.
    mutating func insert(_ pc: Int) -> Bool {
        guard !marked[pc] else { return false }
        marked[pc] = true
        active.append(pc)
        return true
    }

    mutating func clear() {
        for pc in active { marked[pc] = false }
        active.removeAll(keepingCapacity: true)
    }
}
