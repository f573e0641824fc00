//! Zoho CRM criteria import (work in progress).
