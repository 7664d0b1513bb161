/* placeholder until the module lands */
typedef int cairn_server__empty;
