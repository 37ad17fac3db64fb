-- One database per service, never shared (ARCHITECTURE.md "Data"). Migrations run at service start.
CREATE DATABASE customers;
CREATE DATABASE inventory;
CREATE DATABASE orders;
CREATE DATABASE payments;
CREATE DATABASE notifications;
