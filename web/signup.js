// The signup page: reads the invitation token, shows who is invited, and finishes the
// signup through the API. Plain script, no dependencies; its configuration
// (signup-config.json beside this file: API base URL, sign-in link, the user pool's
// password rules) is generated from template.yaml, never written by hand.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const views = ["loading-view", "form-view", "done-view", "token-view", "offline-view"];

  let config = null;
  let token = null; // kept in memory only: it leaves the address bar at once
  let invitee = null; // the pending user from signupinfo, once known
  let submitting = false; // one signup request at a time, whatever the clicks
  let resending = false;

  /// Reads the token and removes it from the address bar (and so from history).
  function takeTokenFromAddress() {
    const params = new URLSearchParams(window.location.search);
    const value = params.get("token");
    if (params.has("token")) {
      params.delete("token");
      const query = params.toString();
      history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
    }
    return value && value.trim() ? value.trim() : null;
  }

  function show(view, focusHeading) {
    for (const id of views) $(id).hidden = id !== view;
    if (focusHeading) {
      const heading = $(view).querySelector("h1");
      if (heading) heading.focus();
    }
  }

  // ---- The API ----------------------------------------------------------------------

  /// One API call. Resolves to {status, body, headers}; rejects only when the network
  /// failed (no answer at all).
  async function api(method, path, body) {
    const response = await fetch(config.apiBaseUrl + path, {
      method,
      headers: body ? { "content-type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
    let parsed = null;
    const text = await response.text();
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch (_) {
        parsed = null;
      }
    }
    return { status: response.status, body: parsed, headers: response.headers };
  }

  /// The code and first message of a 499 (or 400) problem document.
  function problem(answer) {
    const code = answer.headers.get("error-code") || (answer.body && answer.body.type) || "";
    let message = "";
    if (answer.body && answer.body.errors) {
      const messages = answer.body.errors[code] || Object.values(answer.body.errors)[0];
      if (Array.isArray(messages) && messages.length) message = String(messages[0]);
    }
    return { code, message };
  }

  /// "2 minutes" from a Retry-After in seconds (at least one minute).
  function waitText(answer) {
    const seconds = parseInt(answer.headers.get("retry-after") || "60", 10);
    const minutes = Math.max(1, Math.ceil((isNaN(seconds) ? 60 : seconds) / 60));
    return minutes === 1 ? "1 minute" : minutes + " minutes";
  }

  // ---- Password rules (from the user pool's policy) ----------------------------------

  function passwordRules(policy) {
    const rules = [
      {
        text: "at least " + policy.minimumLength + (policy.minimumLength === 1 ? " character" : " characters"),
        met: (p) => [...p].length >= policy.minimumLength,
      },
    ];
    if (policy.requireLowercase) rules.push({ text: "a lowercase letter (a–z)", met: (p) => /[a-z]/.test(p) });
    if (policy.requireUppercase) rules.push({ text: "an uppercase letter (A–Z)", met: (p) => /[A-Z]/.test(p) });
    if (policy.requireNumbers) rules.push({ text: "a number (0–9)", met: (p) => /[0-9]/.test(p) });
    if (policy.requireSymbols) {
      // The special characters Cognito counts as symbols.
      rules.push({ text: "a symbol such as ! @ # $ %", met: (p) => /[\^$*.\[\]{}()?"!@#%&/\\,><':;|_~`=+\- ]/.test(p) });
    }
    return rules;
  }

  function renderRules(rules) {
    const list = $("password-rules");
    list.replaceChildren();
    for (const rule of rules) {
      const item = document.createElement("li");
      const state = document.createElement("span");
      state.className = "visually-hidden";
      item.append(rule.text, state);
      rule.item = item;
      rule.state = state;
      list.append(item);
    }
  }

  function checkRules(rules) {
    const password = $("password").value;
    let unmet = 0;
    for (const rule of rules) {
      const met = rule.met(password);
      rule.item.classList.toggle("met", met);
      rule.state.textContent = met ? " (done)" : " (missing)";
      if (!met) unmet += 1;
    }
    return unmet;
  }

  // ---- Field errors ------------------------------------------------------------------

  function setFieldError(field, message) {
    const input = $(field);
    const error = $(field + "-error");
    error.textContent = message || "";
    error.hidden = !message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  function showFormError(message, offerRetry) {
    $("form-error-text").textContent = message;
    $("form-retry").hidden = !offerRetry;
    $("form-error").hidden = false;
  }

  function clearFormError() {
    $("form-error").hidden = true;
    $("form-error-text").textContent = "";
  }

  /// Checks the form as the API would; returns the ids of the fields in error, in order.
  function validate(rules) {
    const invalid = [];
    for (const [field, label] of [["firstname", "First name"], ["lastname", "Last name"]]) {
      const value = $(field).value.trim();
      let message = "";
      if (!value) message = label + " is required.";
      else if ([...value].length > 50) message = label + " must be at most 50 characters.";
      setFieldError(field, message);
      if (message) invalid.push(field);
    }
    const unmet = rules.filter((rule) => !rule.met($("password").value));
    if (!$("password").value) {
      setFieldError("password", "Choose a password that meets the rules above.");
      invalid.push("password");
    } else if (unmet.length) {
      setFieldError("password", "The password still needs " + unmet.map((r) => r.text).join(", ") + ".");
      invalid.push("password");
    } else {
      setFieldError("password", "");
    }
    if (!$("confirm").value) {
      setFieldError("confirm", "Type the password again to confirm it.");
      invalid.push("confirm");
    } else if ($("confirm").value !== $("password").value) {
      setFieldError("confirm", "The two passwords are not the same.");
      invalid.push("confirm");
    } else {
      setFieldError("confirm", "");
    }
    return invalid;
  }

  // ---- Views -------------------------------------------------------------------------

  function showForm(user) {
    invitee = user;
    $("invitee-email").textContent = user.email || user.username;
    $("email").value = user.username || user.email;
    // Names the admin gave are a starting point; the person may change them.
    if (!$("firstname").value) $("firstname").value = user.firstname || "";
    if (!$("lastname").value) $("lastname").value = user.lastname || "";
    show("form-view", true);
  }

  function showDone(user) {
    $("done-email").textContent = user.username || user.email;
    if (config.signInUrl) {
      $("sign-in-link").href = config.signInUrl;
      $("sign-in-line").hidden = false;
    }
    show("done-view", true);
  }

  /// The token is unknown, used, expired or replaced: the API does not say which.
  function showTokenProblem(reason) {
    $("token-reason").textContent = reason;
    $("token-signin-hint").hidden = reason !== REASONS.invalid;
    if (config.signInUrl) {
      $("token-sign-in-link").href = config.signInUrl;
      $("token-signin-where").hidden = false;
    }
    // Ask for the address only when the token told us nothing.
    $("resend-email-field").hidden = Boolean(invitee);
    $("resend-result").replaceChildren();
    show("token-view", true);
  }

  const REASONS = {
    missing:
      "This page needs the link from your invitation email. Open that link again, or ask for a new one.",
    invalid:
      "The link in your invitation email is no longer valid: it has expired, it was already used, or a newer invitation replaced it. We can send you a new link.",
  };

  function showOffline(text, retry) {
    $("offline-text").textContent = text;
    $("offline-retry").onclick = retry;
    show("offline-view", true);
  }

  // ---- Flows -------------------------------------------------------------------------

  async function loadInvitation() {
    show("loading-view", false);
    let answer;
    try {
      answer = await api("GET", "/api/v1/user/signupinfo?token=" + encodeURIComponent(token));
    } catch (_) {
      return showOffline("We could not reach the server. Check your connection, then try again.", loadInvitation);
    }
    if (answer.status === 200 && answer.body) return showForm(answer.body);
    if (answer.status === 499 && problem(answer).code === "TOKEN") return showTokenProblem(REASONS.invalid);
    if (answer.status === 429) {
      return showOffline("Too many requests right now. Try again in " + waitText(answer) + ".", loadInvitation);
    }
    showOffline("Something went wrong on our side. Try again in a moment.", loadInvitation);
  }

  async function submitSignup(rules) {
    if (submitting) return;
    clearFormError();
    const invalid = validate(rules);
    if (invalid.length) {
      showFormError(
        invalid.length === 1 ? "Please correct the field marked below." : "Please correct the " + invalid.length + " fields marked below.",
        false,
      );
      $(invalid[0]).focus();
      return;
    }
    submitting = true;
    const button = $("submit");
    button.disabled = true;
    button.textContent = "Creating your account…";
    $("signup-form").setAttribute("aria-busy", "true");
    try {
      let answer;
      try {
        answer = await api("POST", "/api/v1/user/signup", {
          firstname: $("firstname").value.trim(),
          lastname: $("lastname").value.trim(),
          password: $("password").value,
          token,
        });
      } catch (_) {
        showFormError("We could not reach the server. Nothing was lost: check your connection and try again.", true);
        $("form-retry").focus();
        return;
      }
      if (answer.status === 200 && answer.body) {
        token = null;
        return showDone(answer.body);
      }
      const { code, message } = problem(answer);
      if (answer.status === 499 && code === "TOKEN") return showTokenProblem(REASONS.invalid);
      if (answer.status === 499 && code === "SECURITY") {
        setFieldError("password", message || "The password was refused. Choose another one.");
        showFormError("The password was refused. Please choose another one.", false);
        $("password").focus();
        return;
      }
      if (answer.status === 429) {
        showFormError("Too many attempts. Try again in " + waitText(answer) + ".", true);
        $("form-retry").focus();
        return;
      }
      if (answer.status === 499 && message) {
        const field = ["firstname", "lastname"].find((f) => message.toLowerCase().startsWith(f));
        if (field) {
          setFieldError(field, message);
          showFormError("Please correct the field marked below.", false);
          $(field).focus();
          return;
        }
        showFormError(message, false);
        return;
      }
      showFormError("Something went wrong on our side. Nothing was lost: try again in a moment.", true);
      $("form-retry").focus();
    } finally {
      submitting = false;
      button.disabled = false;
      button.textContent = "Create account";
      $("signup-form").removeAttribute("aria-busy");
    }
  }

  function resendMessage(text, isError) {
    const p = document.createElement("p");
    p.textContent = text;
    if (isError) p.className = "error";
    $("resend-result").replaceChildren(p);
  }

  async function resendLink() {
    if (resending) return;
    let username = invitee ? invitee.username : $("resend-email").value.trim();
    if (!invitee) {
      const ok = username && $("resend-email").checkValidity();
      setFieldError("resend-email", ok ? "" : "Enter the email address the invitation was sent to.");
      if (!ok) {
        $("resend-email").focus();
        return;
      }
    }
    resending = true;
    $("resend").disabled = true;
    resendMessage("Sending…", false);
    try {
      let answer;
      try {
        answer = await api("POST", "/api/v1/user/resend_user_email", { username });
      } catch (_) {
        return resendMessage("We could not reach the server. Check your connection and try again.", true);
      }
      if (answer.status === 200) {
        return resendMessage("We sent a new link to " + username + ". Open it from your inbox; the old link no longer works.", false);
      }
      if (answer.status === 429) {
        return resendMessage("A new link was sent several times already. Try again in " + waitText(answer) + ".", true);
      }
      if (answer.status === 400) {
        return resendMessage(
          "We cannot send a new link to this address: there is no pending invitation for it. If you have not created your account yet, ask your administrator to invite you again.",
          true,
        );
      }
      if (answer.status === 499 && problem(answer).message) return resendMessage(problem(answer).message, true);
      resendMessage("Something went wrong on our side. Try again in a moment.", true);
    } finally {
      resending = false;
      $("resend").disabled = false;
    }
  }

  async function start() {
    try {
      const response = await fetch("signup-config.json", { cache: "no-store" });
      if (!response.ok) throw new Error("configuration answered " + response.status);
      config = await response.json();
    } catch (_) {
      return showOffline("This page could not load its settings. Try again in a moment.", () => {
        show("loading-view", false);
        start();
      });
    }
    config.apiBaseUrl = String(config.apiBaseUrl || "").replace(/\/+$/, "");

    const rules = passwordRules(config.passwordPolicy);
    renderRules(rules);
    checkRules(rules);
    $("password").addEventListener("input", () => {
      checkRules(rules);
      // An error shown earlier goes as soon as the password is fixed.
      if (!$("password-error").hidden && !rules.some((r) => !r.met($("password").value))) {
        setFieldError("password", "");
      }
    });
    $("confirm").addEventListener("input", () => {
      if (!$("confirm-error").hidden && $("confirm").value === $("password").value) setFieldError("confirm", "");
    });
    $("signup-form").addEventListener("submit", (event) => {
      event.preventDefault();
      submitSignup(rules);
    });
    $("form-retry").addEventListener("click", () => submitSignup(rules));
    $("resend-form").addEventListener("submit", (event) => {
      event.preventDefault();
      resendLink();
    });

    if (!token) return showTokenProblem(REASONS.missing);
    loadInvitation();
  }

  token = takeTokenFromAddress();
  start();
})();
