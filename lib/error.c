/*
 * error.c: the messages and names of jobq's error codes, and the version calls.
 * Both come from the one table in jobq.h (JOBQ_ERRNO_MAP), so a code can never lack either.
 * Pure functions over static strings: any thread, no locks.
 */
#include "jobq.h"

const char *jobq_strerror(int code)
{
	switch (code) {
	case 0:
		return "success";
#define JOBQ_ERR_MSG_(name, value, msg) \
	case JOBQ_##name:               \
		return msg;
		JOBQ_ERRNO_MAP(JOBQ_ERR_MSG_)
#undef JOBQ_ERR_MSG_
	}
	return "unknown error";
}

const char *jobq_err_name(int code)
{
	switch (code) {
	case 0:
		return "JOBQ_OK";
#define JOBQ_ERR_NAME_(name, value, msg) \
	case JOBQ_##name:                \
		return "JOBQ_" #name;
		JOBQ_ERRNO_MAP(JOBQ_ERR_NAME_)
#undef JOBQ_ERR_NAME_
	}
	return "JOBQ_UNKNOWN";
}

unsigned jobq_version(void)
{
	return JOBQ_VERSION_NUMBER;
}

const char *jobq_version_string(void)
{
	return JOBQ_VERSION_STRING;
}
