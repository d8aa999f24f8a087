# TCP_Server.py -- the course's TCP server template (Lab 2, question 4).
#
#   python3 TCP_Server.py [PORT]          (default port 12000)
#
# Listens on PORT; serves one client at a time: everything the client sends comes
# back upper-cased until the client closes the connection. Stop it with Ctrl-C.
import sys
from socket import AF_INET, SO_REUSEADDR, SOCK_STREAM, SOL_SOCKET, socket

DEFAULT_PORT = 12000
BUFFER_SIZE = 1024  # bytes read at once
BACKLOG = 1  # connections that may wait while one is served

if len(sys.argv) > 2 or (len(sys.argv) == 2 and not (sys.argv[1].isdigit() and int(sys.argv[1]) <= 65535)):
    sys.exit("usage: python3 TCP_Server.py [PORT]")
serverPort = int(sys.argv[1]) if len(sys.argv) == 2 else DEFAULT_PORT

serverSocket = socket(AF_INET, SOCK_STREAM)  # a TCP socket
serverSocket.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)  # restart at once after Ctrl-C
serverSocket.bind(("", serverPort))
serverSocket.listen(BACKLOG)  # the welcoming socket
print("The server is ready to receive on port", serverSocket.getsockname()[1], flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()  # a new socket for this one client (after the handshake)
    print("Connection from", addr, flush=True)
    try:
        while True:
            sentence = connectionSocket.recv(BUFFER_SIZE)  # some bytes, not one "message"
            if not sentence:  # the client closed its side
                break
            print("From", addr, "received", repr(sentence.decode("utf-8", "replace")), flush=True)
            connectionSocket.sendall(sentence.decode("utf-8", "replace").upper().encode("utf-8"))
    except OSError as error:  # e.g. the client reset the connection: serve the next one
        print("Connection from", addr, "failed:", error, flush=True)
    connectionSocket.close()
