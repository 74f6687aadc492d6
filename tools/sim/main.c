/* greenwatch-sim: a simulated building served over Modbus. */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "greenwatch-sim: not yet implemented\n");
	return 1;
}
