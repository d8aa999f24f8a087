# TCP_Client.py -- the course's TCP client template (Lab 2, question 4).
#
#   python3 TCP_Client.py [HOST [PORT]]   (defaults: localhost 12000)
#
# Connects to the server, reads one line from the keyboard (standard input), sends
# it and prints the server's reply, then closes the connection.
import sys
from socket import AF_INET, SOCK_STREAM, socket

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 12000
BUFFER_SIZE = 1024  # bytes read at once
TIMEOUT = 5.0  # seconds to wait for the server

if len(sys.argv) > 3 or (len(sys.argv) == 3 and not (sys.argv[2].isdigit() and int(sys.argv[2]) <= 65535)):
    sys.exit("usage: python3 TCP_Client.py [HOST [PORT]]")
serverName = sys.argv[1] if len(sys.argv) >= 2 else DEFAULT_HOST
serverPort = int(sys.argv[2]) if len(sys.argv) == 3 else DEFAULT_PORT

clientSocket = socket(AF_INET, SOCK_STREAM)  # a TCP socket
clientSocket.settimeout(TIMEOUT)
try:
    clientSocket.connect((serverName, serverPort))  # the three-way handshake happens here
except OSError as error:
    sys.exit(f"cannot connect to {serverName}:{serverPort}: {error}")
try:
    sentence = input("Input lowercase sentence: ")
except EOFError:
    sys.exit("no input: type a line (or pipe one in)")
try:
    clientSocket.sendall((sentence + "\n").encode("utf-8"))
    modifiedSentence = clientSocket.recv(BUFFER_SIZE)
except TimeoutError:
    sys.exit(f"no reply from {serverName}:{serverPort} within {TIMEOUT:g} s")
except OSError as error:  # e.g. the server reset the connection
    sys.exit(f"{serverName}:{serverPort}: {error}")
print("From Server:", modifiedSentence.decode("utf-8", "replace").rstrip("\n"))
clientSocket.close()
