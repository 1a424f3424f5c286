"""The fleet: what is out there in the watched vaults (the inventory), and acting on it by selector."""
