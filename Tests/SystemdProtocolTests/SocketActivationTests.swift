import SystemdProtocol
import Testing

@Suite struct SocketActivationTests {
    @Test func oneSocketForThisProcess() throws {
        let activation = try SocketActivation.from(
            environment: ["LISTEN_PID": "42", "LISTEN_FDS": "1"], processID: 42)
        #expect(activation?.descriptors == [.init(descriptor: 3, name: "unknown")])
    }

    @Test func namedSocketsInOrder() throws {
        let activation = try SocketActivation.from(
            environment: ["LISTEN_PID": "42", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "cairn.socket:metrics"],
            processID: 42)
        #expect(activation?.descriptors.map(\.descriptor) == [3, 4])
        #expect(activation?.descriptors.map(\.name) == ["cairn.socket", "metrics"])
    }

    @Test func notActivatedWithoutTheVariables() throws {
        #expect(try SocketActivation.from(environment: [:], processID: 42) == nil)
        #expect(try SocketActivation.from(environment: ["LISTEN_FDS": "1"], processID: 42) == nil)
        #expect(try SocketActivation.from(environment: ["LISTEN_PID": "42"], processID: 42) == nil)
    }

    @Test func socketsForAnotherProcessAreNotTaken() throws {
        // A child that inherited the variables from an activated parent.
        #expect(try SocketActivation.from(environment: ["LISTEN_PID": "41", "LISTEN_FDS": "1"], processID: 42) == nil)
    }

    @Test(arguments: [
        (["LISTEN_PID": "42", "LISTEN_FDS": "0"], "LISTEN_FDS"),
        (["LISTEN_PID": "42", "LISTEN_FDS": "-1"], "LISTEN_FDS"),
        (["LISTEN_PID": "42", "LISTEN_FDS": "one"], "LISTEN_FDS"),
        (["LISTEN_PID": "pid", "LISTEN_FDS": "1"], "LISTEN_PID"),
        (["LISTEN_PID": "0", "LISTEN_FDS": "1"], "LISTEN_PID"),
        (["LISTEN_PID": "42", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "cairn"], "LISTEN_FDNAMES"),
        (["LISTEN_PID": "42", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "a:b"], "LISTEN_FDNAMES"),
    ])
    func malformedVariablesAreRefusedByName(environment: [String: String], variable: String) {
        #expect(throws: SystemdEnvironmentError.self) {
            try SocketActivation.from(environment: environment, processID: 42)
        }
        do {
            _ = try SocketActivation.from(environment: environment, processID: 42)
        } catch {
            #expect(error.variable == variable)
            #expect(error.description.hasPrefix("\(variable): "))
        }
    }
}
