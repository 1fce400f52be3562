"""`3dpot demo`: the whole stack on one machine on embedded defaults.

broker.py     an MQTT broker: Mosquitto when installed, else an embedded one (amqtt) in this process
children.py   child processes with their output in log files, stopped in reverse order
farm.py       the cloud on SQLite, virtual printers with enrolled agents, a sample job
"""
