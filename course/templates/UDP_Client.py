# UDP_Client.py -- the course's UDP client template (Lab 2, questions 1 and 2).
#
#   python3 UDP_Client.py [HOST [PORT]]   (defaults: localhost 12000)
#
# Reads one line from the keyboard (standard input), sends it to the server in one
# datagram and prints the server's reply.
import sys
from socket import AF_INET, SOCK_DGRAM, socket

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 12000
BUFFER_SIZE = 2048  # the largest reply read at once
TIMEOUT = 5.0  # seconds to wait for the reply: a lost UDP datagram is never reported

if len(sys.argv) > 3 or (len(sys.argv) == 3 and not (sys.argv[2].isdigit() and int(sys.argv[2]) <= 65535)):
    sys.exit("usage: python3 UDP_Client.py [HOST [PORT]]")
serverName = sys.argv[1] if len(sys.argv) >= 2 else DEFAULT_HOST
serverPort = int(sys.argv[2]) if len(sys.argv) == 3 else DEFAULT_PORT

clientSocket = socket(AF_INET, SOCK_DGRAM)  # a UDP socket: no connection, no bind needed
clientSocket.settimeout(TIMEOUT)
try:
    message = input("Input lowercase sentence: ")
except EOFError:
    sys.exit("no input: type a line (or pipe one in)")
try:
    clientSocket.sendto(message.encode("utf-8"), (serverName, serverPort))  # the kernel picks our port
    modifiedMessage, serverAddress = clientSocket.recvfrom(BUFFER_SIZE)
except TimeoutError:
    sys.exit(f"no reply from {serverName}:{serverPort} within {TIMEOUT:g} s")
except OSError as error:  # e.g. the name does not resolve
    sys.exit(f"cannot reach {serverName}:{serverPort}: {error}")
print(modifiedMessage.decode("utf-8", "replace"))
clientSocket.close()
