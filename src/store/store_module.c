/* placeholder until the module lands */
typedef int cairn_store__empty;
