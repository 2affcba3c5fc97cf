/*
 * The import console's pages (docs/contracts.md §8): sign-in, the jobs list and New import (the wizard), and a job's
 * page. Plain ES2020, no framework, no build. The pages hold no data: everything comes from the console's API with
 * the administrator's ID token (sessionStorage), and the file goes straight to the bucket through the form the API
 * signs. Every control is a native one with a visible label, so keyboards and assistive technology reach it by name.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("config").textContent);
  const BASE = config.base || "/";
  const PREFIX_BYTES = 64 * 1024;
  const POLL_MS = 2000;
  const SESSION_ENDED = "Your session ended: sign in again.";
  const main = document.getElementById("main");
  const who = document.getElementById("who");
  let pollTimer = null;
  let generation = 0; // a page shown later makes the earlier page's pending work moot

  class SignedOut extends Error {}

  // Elements

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "text") node.textContent = value;
      else if (name in node && !name.includes("-")) node[name] = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function alertBox(sentence) {
    return el("p", { className: "alert", role: "alert", text: sentence });
  }

  function table(caption, headers, rows) {
    return el(
      "div",
      { className: "table-wrap" },
      el(
        "table",
        {},
        el("caption", { text: caption }),
        el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))),
        el(
          "tbody",
          {},
          rows.map((cells) => el("tr", {}, cells.map((cell) => el("td", {}, cell))))
        )
      )
    );
  }

  function internalLink(path, text) {
    return el("a", {
      href: BASE + path,
      text,
      onclick: (event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        go(path);
      },
    });
  }

  // Signing in (Cognito's JSON API, USER_PASSWORD_AUTH) and the API

  function token() {
    const held = sessionStorage.getItem("idToken");
    const expires = Number(sessionStorage.getItem("expiresAt") || 0);
    return held && Date.now() < expires ? held : null;
  }

  // Cognito's JSON API (InitiateAuth, RespondToAuthChallenge), called from the page as its SDKs do.
  async function cognito(action, body) {
    let answer;
    try {
      answer = await fetch(config.cognitoEndpoint, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-amz-json-1.1",
          "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
        },
        body: JSON.stringify(body),
      });
    } catch (error) {
      throw new Error("The sign-in service could not be reached: check your connection and try again.");
    }
    const document_ = await answer.json().catch(() => ({}));
    if (!answer.ok) {
      const kind = String(document_.__type || "").split("#").pop();
      if (kind === "NotAuthorizedException" || kind === "UserNotFoundException") {
        throw new Error("The username or password is not right: check them and try again.");
      }
      if (kind === "InvalidPasswordException") {
        throw new Error(`This password is not accepted (${document_.message || "the pool's rules"}): choose another.`);
      }
      if (kind === "PasswordResetRequiredException") {
        throw new Error("Your password must be reset first: ask the operator who invited you.");
      }
      throw new Error(`Signing in failed (${document_.message || answer.status}): try again in a minute.`);
    }
    return document_;
  }

  // A first sign-in with the invitation's temporary password: Cognito asks for the administrator's own.
  class NewPasswordRequired extends Error {
    constructor(username, session) {
      super("Choose your own password: the invitation's was for this first sign-in only.");
      this.username = username;
      this.session = session;
    }
  }

  async function signIn(username, password) {
    const document_ = await cognito("InitiateAuth", {
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: config.clientId,
      AuthParameters: { USERNAME: username, PASSWORD: password },
    });
    if (document_.ChallengeName === "NEW_PASSWORD_REQUIRED") {
      throw new NewPasswordRequired(username, document_.Session);
    }
    if (document_.ChallengeName || !document_.AuthenticationResult) {
      throw new Error(
        `This account asks for a sign-in step the console does not offer (${document_.ChallengeName}): ask the ` +
          "operator who invited you."
      );
    }
    keep(document_.AuthenticationResult, username);
  }

  async function chooseNewPassword(challenge, newPassword) {
    const document_ = await cognito("RespondToAuthChallenge", {
      ChallengeName: "NEW_PASSWORD_REQUIRED",
      ClientId: config.clientId,
      Session: challenge.session,
      ChallengeResponses: { USERNAME: challenge.username, NEW_PASSWORD: newPassword },
    });
    if (!document_.AuthenticationResult) {
      throw new Error("Cognito asked for more than a new password: ask the operator who invited you.");
    }
    keep(document_.AuthenticationResult, challenge.username);
  }

  function keep(result, username) {
    sessionStorage.setItem("idToken", result.IdToken);
    sessionStorage.setItem("expiresAt", String(Date.now() + (Number(result.ExpiresIn) || 3600) * 1000 - 30000));
    sessionStorage.setItem("username", username);
  }

  function signOut(sentence) {
    sessionStorage.removeItem("idToken");
    sessionStorage.removeItem("expiresAt");
    sessionStorage.removeItem("username");
    showSignIn(sentence);
  }

  async function api(method, path, body) {
    const held = token();
    if (!held) {
      signOut(SESSION_ENDED);
      throw new SignedOut();
    }
    const headers = { Authorization: `Bearer ${held}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let answer;
    try {
      answer = await fetch(BASE + "api/" + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (error) {
      throw new Error("The console could not be reached: check your connection and try again.");
    }
    if (answer.status === 401) {
      signOut(SESSION_ENDED);
      throw new SignedOut();
    }
    if (!answer.ok) {
      const refused = await answer.json().catch(() => ({}));
      throw new Error(refused.error || `The console answered ${answer.status}: reload the page and try again.`);
    }
    return answer;
  }

  async function apiJson(method, path, body) {
    return (await api(method, path, body)).json();
  }

  // Pages

  function stopPolling() {
    if (pollTimer !== null) clearTimeout(pollTimer);
    pollTimer = null;
  }

  function go(path) {
    history.pushState(null, "", BASE + path);
    route();
  }

  function route() {
    stopPolling();
    generation += 1;
    if (!token()) {
      // a session that ended while the page was away says so; a first visit just asks
      if (sessionStorage.getItem("idToken")) signOut(SESSION_ENDED);
      else showSignIn();
      return;
    }
    showWho();
    const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "";
    const job = /^jobs\/([^/]+)$/.exec(path);
    if (job) showJob(decodeURIComponent(job[1]));
    else showHome();
  }

  function showWho() {
    who.replaceChildren(
      el("span", { className: "user", text: sessionStorage.getItem("username") || "" }),
      el("button", { type: "button", className: "secondary", text: "Sign out", onclick: () => signOut() })
    );
  }

  function showSignIn(sentence) {
    stopPolling();
    generation += 1;
    who.replaceChildren();
    document.title = "Sign in · Portal user import";
    const username = el("input", { id: "username", name: "username", type: "text", autocomplete: "username", required: true });
    const password = el("input", {
      id: "password",
      name: "password",
      type: "password",
      autocomplete: "current-password",
      required: true,
    });
    const problem = el("div", {});
    if (sentence) problem.append(alertBox(sentence));
    const button = el("button", { type: "submit", text: "Sign in" });
    const form = el(
      "form",
      {
        className: "card narrow",
        onsubmit: async (event) => {
          event.preventDefault();
          button.disabled = true;
          problem.replaceChildren();
          try {
            await signIn(username.value.trim(), password.value);
            route();
          } catch (error) {
            if (error instanceof NewPasswordRequired) {
              showNewPassword(error);
              return;
            }
            problem.replaceChildren(alertBox(error.message));
            button.disabled = false;
          }
        },
      },
      el("h2", { text: "Sign in" }),
      el("p", { text: "For the import's administrators: sign in with the email address you were invited with." }),
      el("label", { htmlFor: "username", text: "Username" }),
      username,
      el("label", { htmlFor: "password", text: "Password" }),
      password,
      problem,
      button
    );
    main.replaceChildren(form);
    username.focus();
  }

  function showNewPassword(challenge) {
    document.title = "Choose your password · Portal user import";
    const field = (id, label) => [
      el("label", { htmlFor: id, text: label }),
      el("input", { id, name: id, type: "password", autocomplete: "new-password", required: true, minLength: 14 }),
    ];
    const [firstLabel, first] = field("new-password", "New password");
    const [againLabel, again] = field("new-password-again", "New password again");
    const problem = el("div", {}, alertBox(challenge.message));
    const button = el("button", { type: "submit", text: "Set password" });
    const form = el(
      "form",
      {
        className: "card narrow",
        onsubmit: async (event) => {
          event.preventDefault();
          problem.replaceChildren();
          if (first.value !== again.value) {
            problem.append(alertBox("The two passwords are not the same: type the same new password in both fields."));
            return;
          }
          button.disabled = true;
          try {
            await chooseNewPassword(challenge, first.value);
            route();
          } catch (error) {
            problem.replaceChildren(alertBox(error.message));
            button.disabled = false;
          }
        },
      },
      el("h2", { text: "Choose your password" }),
      el("p", {
        text: "At least 14 characters, with an uppercase and a lowercase letter, a number and a symbol.",
      }),
      // for password managers: the account the new password is for
      el("input", { type: "text", name: "username", value: challenge.username, autocomplete: "username", hidden: true }),
      firstLabel,
      first,
      againLabel,
      again,
      problem,
      button
    );
    main.replaceChildren(form);
    first.focus();
  }

  function showHome() {
    document.title = "Portal user import";
    const jobs = el("section", { className: "card", "aria-labelledby": "jobs-title" });
    main.replaceChildren(newImport(), jobs);
    loadJobs(jobs, generation);
  }

  async function loadJobs(section, mine) {
    section.replaceChildren(el("h2", { id: "jobs-title", text: "Jobs" }), el("p", { text: "Loading the jobs…" }));
    let listed;
    try {
      listed = await apiJson("GET", "jobs");
    } catch (error) {
      if (error instanceof SignedOut || mine !== generation) return;
      section.replaceChildren(el("h2", { id: "jobs-title", text: "Jobs" }), alertBox(error.message));
      return;
    }
    if (mine !== generation) return;
    const rows = listed.jobs.map((job) => [
      internalLink("jobs/" + encodeURIComponent(job.jobId), job.jobId),
      job.sourceKey,
      words(job.status),
      job.mode,
      job.totalRows === null ? "" : `${job.rowsDone} of ${job.totalRows}`,
    ]);
    section.replaceChildren(
      el("h2", { id: "jobs-title", text: "Jobs" }),
      rows.length
        ? table("Jobs, newest first", ["Job", "File", "Status", "Mode", "Rows"], rows)
        : el("p", { text: "No job yet: start one with New import." })
    );
  }

  // New import (the wizard)

  function newImport() {
    const section = el("section", { className: "card", "aria-labelledby": "new-title" });
    const templateLink = el("a", {
      href: BASE + "api/template",
      download: "portal-users-template.csv",
      text: "Download sample CSV template",
    });
    let templateReady = false;
    const templateProblem = el("div", {});
    async function fetchTemplate() {
      const blob = await (await api("GET", "template")).blob();
      templateLink.href = URL.createObjectURL(new Blob([blob], { type: "text/csv" }));
      templateReady = true;
    }
    templateLink.addEventListener("click", async (event) => {
      if (templateReady) return;
      event.preventDefault();
      try {
        await fetchTemplate();
        templateLink.click();
      } catch (error) {
        if (!(error instanceof SignedOut)) templateProblem.replaceChildren(alertBox(error.message));
      }
    });
    fetchTemplate().catch(() => {}); // ready before it is clicked, mostly; a click fetches it again otherwise

    const file = el("input", { id: "csv-file", type: "file", accept: ".csv,text/csv,text/plain" });
    const details = el("div", {});
    const fileProblem = el("div", {});
    file.addEventListener("change", () => chosen(file.files[0], details, fileProblem));
    section.append(
      el("h2", { id: "new-title", text: "New import" }),
      el(
        "p",
        {},
        "A CSV file with a header row: a column of Contact IDs and a column of Role names, one row per Contact. ",
        templateLink,
        "."
      ),
      templateProblem,
      el("label", { htmlFor: "csv-file", text: "CSV file" }),
      el("p", {
        className: "hint",
        id: "csv-file-hint",
        text: `At most ${config.maxFileBytes.toLocaleString("en")} bytes. The file is read here first; nothing is sent until you start.`,
      }),
      file,
      fileProblem,
      details
    );
    file.setAttribute("aria-describedby", "csv-file-hint");
    return section;
  }

  async function chosen(file, details, problem) {
    details.replaceChildren();
    problem.replaceChildren();
    if (!file) return;
    if (file.size > config.maxFileBytes) {
      problem.append(
        alertBox(
          `The file is ${file.size.toLocaleString("en")} bytes, more than this stack takes ` +
            `(${config.maxFileBytes.toLocaleString("en")}): split it into smaller files and import each.`
        )
      );
      return;
    }
    const bytes = new Uint8Array(await file.slice(0, PREFIX_BYTES).arrayBuffer());
    const auto = PortalImportReader.readHeader(bytes, null);
    if (auto.refusal && !auto.columns.length) {
      problem.append(alertBox(auto.refusal));
      return;
    }
    const selectOf = (id, preset) => {
      const select = el("select", { id });
      if (!preset) select.append(el("option", { value: "", text: "Choose a column" }));
      for (const column of auto.columns) {
        select.append(el("option", { value: column, text: column, selected: column === preset }));
      }
      return select;
    };
    const contactId = selectOf("contact-id-column", auto.contactIdColumn);
    const role = selectOf("role-column", auto.roleColumn);
    const mappingProblem = el("div", {});
    const preview = el("div", {});
    const send = el("input", { id: "send-email", type: "checkbox", checked: Boolean(config.sendActivationEmailDefault) });
    const validate = el("button", { type: "button", className: "secondary", text: "Validate" });
    const start = el("button", { type: "button", text: "Start import" });
    const submitProblem = el("div", {});
    const progress = el("p", { role: "status", className: "hint" });

    function refresh(initial) {
      const mapping = { contactId: contactId.value || null, role: role.value || null };
      const read = PortalImportReader.readHeader(bytes, mapping);
      const refusal =
        read.refusal || (!contactId.value || !role.value ? "Choose the ContactId column and the Role column." : null);
      mappingProblem.replaceChildren();
      preview.replaceChildren();
      // A file that does not auto-map says why until a column is chosen here (Map Fields)
      const said = initial === true && auto.refusal ? auto.refusal : refusal;
      if (said) mappingProblem.append(alertBox(said));
      if (!read.refusal && read.columns.length) {
        preview.append(
          table(
            `The first rows of ${file.name}`,
            read.columns,
            read.rows.map((cells) => read.columns.map((_, index) => cells[index] ?? ""))
          )
        );
      }
      validate.disabled = start.disabled = Boolean(refusal);
    }
    contactId.addEventListener("change", () => refresh(false));
    role.addEventListener("change", () => refresh(false));

    async function submit(mode) {
      validate.disabled = start.disabled = true;
      submitProblem.replaceChildren();
      const request = { fileName: file.name, size: file.size, mode, sendActivationEmail: send.checked };
      // Map Fields: a column is sent only when it is not the one the stack's auto-mapping would take
      if (auto.refusal || contactId.value !== auto.contactIdColumn) request.contactIdColumn = contactId.value;
      if (auto.refusal || role.value !== auto.roleColumn) request.roleColumn = role.value;
      const mine = generation;
      try {
        progress.textContent = "Uploading the file…";
        const before = new Set((await apiJson("GET", "jobs")).jobs.map((job) => job.jobId));
        const form = await apiJson("POST", "uploads", request);
        const body = new FormData();
        for (const [name, value] of Object.entries(form.fields)) body.append(name, value);
        body.append("file", file); // the file last, as S3 requires
        let sent;
        try {
          sent = await fetch(form.url, { method: "POST", body });
        } catch (error) {
          throw new Error("The file could not be sent to the bucket: check your connection and try again.");
        }
        if (!sent.ok) {
          const said = /<Message>([^<]*)<\/Message>/.exec(await sent.text().catch(() => ""));
          throw new Error(
            `The bucket refused the file (${said ? said[1] : sent.status}): reload the page and try again.`
          );
        }
        progress.textContent = "Uploaded: waiting for its job to start…";
        const deadline = Date.now() + 120000;
        for (;;) {
          const jobs = (await apiJson("GET", "jobs")).jobs;
          const job = jobs.find((j) => j.sourceKey === form.key && !before.has(j.jobId));
          if (mine !== generation) return;
          if (job) {
            go("jobs/" + encodeURIComponent(job.jobId));
            return;
          }
          if (Date.now() > deadline) {
            throw new Error("The file was uploaded, but its job has not started yet: look for it in the jobs list.");
          }
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      } catch (error) {
        if (error instanceof SignedOut) return;
        progress.textContent = "";
        submitProblem.replaceChildren(alertBox(error.message));
        validate.disabled = start.disabled = false;
      }
    }
    validate.addEventListener("click", () => submit("validate"));
    start.addEventListener("click", () => submit("import"));

    details.append(
      el("h3", { text: "Columns" }),
      el("p", {
        className: "hint",
        text: "The columns the import reads the Contact IDs and Role names from. Change them if they are not right.",
      }),
      el("div", { className: "field" }, el("label", { htmlFor: "contact-id-column", text: "ContactId column" }), contactId),
      el("div", { className: "field" }, el("label", { htmlFor: "role-column", text: "Role column" }), role),
      mappingProblem,
      preview,
      el("div", { className: "check" }, send, el("label", { htmlFor: "send-email", text: "Send activation email" })),
      el("div", { className: "actions" }, validate, start),
      submitProblem,
      progress
    );
    refresh(true);
  }

  // A job's page

  function words(status) {
    return String(status || "").toLowerCase().replaceAll("_", " ");
  }

  function showJob(jobId) {
    document.title = `Job ${jobId} · Portal user import`;
    const mine = generation;
    const status = el("strong", { id: "job-status", text: "loading" });
    const bar = el("div", { className: "bar" });
    const progressbar = el("div", {
      role: "progressbar",
      className: "progress",
      "aria-label": "Rows processed",
      "aria-valuemin": "0",
    }, bar);
    const progressText = el("p", { className: "hint" });
    const counts = el("dl", { className: "counts" });
    const failures = el("div", {});
    const files = el("div", {});
    const users = el("div", {});
    const problem = el("div", {});
    const answer = el("div", { role: "status" });
    const resend = el("button", { type: "button", className: "secondary", text: "Resend" });
    const resume = el("button", { type: "button", className: "secondary", text: "Resume emails", hidden: true });
    let usersShown = false;

    resend.addEventListener("click", async () => {
      resend.disabled = true;
      answer.replaceChildren();
      try {
        const done = await apiJson("POST", `jobs/${encodeURIComponent(jobId)}/resend`, {});
        const queued = done.queued.length;
        const lines = [
          el("p", {
            text: queued
              ? `A new activation email is on its way to ${queued} user${queued === 1 ? "" : "s"}.`
              : "No user was left to reach: no email was sent.",
          }),
        ];
        if (done.leftOut.length) {
          const reasons = new Map();
          for (const left of done.leftOut) reasons.set(left.reason, (reasons.get(left.reason) || 0) + 1);
          lines.push(table("Left out", ["Reason", "Users"], [...reasons].map(([reason, n]) => [reason, String(n)])));
        }
        answer.replaceChildren(...lines);
      } catch (error) {
        if (!(error instanceof SignedOut)) answer.replaceChildren(alertBox(error.message));
      }
      resend.disabled = false;
    });
    resume.addEventListener("click", async () => {
      resume.disabled = true;
      answer.replaceChildren();
      try {
        const done = await apiJson("POST", `jobs/${encodeURIComponent(jobId)}/resume-emails`, {});
        const sentence =
          typeof done.queued === "number"
            ? `The hold has ended: the held emails are on their way (${done.queued} queued again).`
            : "The hold has ended: the held emails are on their way.";
        answer.replaceChildren(el("p", { text: sentence }));
        refresh();
      } catch (error) {
        if (!(error instanceof SignedOut)) answer.replaceChildren(alertBox(error.message));
      }
      resume.disabled = false;
    });

    main.replaceChildren(
      el("p", {}, internalLink("", "All jobs and New import")),
      el(
        "section",
        { className: "card", "aria-labelledby": "job-title" },
        el("h2", { id: "job-title", text: `Job ${jobId}` }),
        el("p", {}, "Status: ", status),
        progressbar,
        progressText,
        counts,
        problem,
        failures,
        files,
        el("div", { className: "actions" }, resend, resume),
        answer
      ),
      el("section", { className: "card", "aria-labelledby": "users-title" }, el("h2", { id: "users-title", text: "Users" }), users)
    );
    users.append(el("p", { text: "The users appear once the job has finished." }));

    async function loadUsers() {
      try {
        const listed = await apiJson("GET", `jobs/${encodeURIComponent(jobId)}/users`);
        if (mine !== generation) return;
        usersShown = true;
        users.replaceChildren(
          listed.users.length
            ? table(
                "The users the job created",
                ["Row", "ContactId", "Email", "Delivery", "Activation"],
                listed.users.map((u) => [
                  String(u.row),
                  u.contactId,
                  u.email || "",
                  u.deliveryDetail ? `${u.delivery} (${u.deliveryDetail})` : u.delivery || "",
                  u.activation || "",
                ])
              )
            : el("p", { text: "The job created no user." })
        );
      } catch (error) {
        if (!(error instanceof SignedOut) && mine === generation) users.replaceChildren(alertBox(error.message));
      }
    }

    async function refresh() {
      let job;
      try {
        job = await apiJson("GET", `jobs/${encodeURIComponent(jobId)}`);
      } catch (error) {
        if (error instanceof SignedOut || mine !== generation) return;
        problem.replaceChildren(alertBox(error.message));
        pollTimer = setTimeout(refresh, POLL_MS);
        return;
      }
      if (mine !== generation) return;
      problem.replaceChildren(job.error ? alertBox(job.error) : "");
      status.textContent = words(job.status);
      const total = job.totalRows;
      if (total === null || total === undefined) {
        progressbar.removeAttribute("aria-valuemax");
        progressbar.removeAttribute("aria-valuenow");
        progressbar.setAttribute("aria-valuetext", "counting the rows");
        progressText.textContent = "Counting the rows…";
        bar.style.width = "0%";
      } else {
        progressbar.setAttribute("aria-valuemax", String(total));
        progressbar.setAttribute("aria-valuenow", String(job.rowsDone));
        progressbar.setAttribute("aria-valuetext", `${job.rowsDone} of ${total} rows`);
        progressText.textContent = `${job.rowsDone} of ${total} rows processed`;
        bar.style.width = `${total ? Math.round((100 * job.rowsDone) / total) : 100}%`;
      }
      const shown = [
        ["Mode", job.mode],
        ["File", job.sourceKey],
        ["Created", job.succeeded],
        ["Failed", job.failed],
        ["Emails sent", job.emailsSent],
        ["Delivered", job.emailsDelivered],
        ["Bounced", job.emailsBounced],
        ["Held", job.emailsHeld],
        ["Activated", job.usersActivated],
      ];
      counts.replaceChildren(
        ...shown
          .filter(([, value]) => value !== null && value !== undefined)
          .map(([name, value]) => el("div", {}, el("dt", { text: name }), el("dd", { text: String(value) })))
      );
      failures.replaceChildren(
        job.failuresByReason && job.failuresByReason.length
          ? table(
              "Failures by reason",
              ["Reason", "Rows", "What to do"],
              job.failuresByReason.map((f) => [f.error, String(f.rows), f.whatToDo])
            )
          : ""
      );
      const links = [
        ["success.csv", "Success file"],
        ["failure.csv", "Failure file"],
        ["summary.json", "Summary"],
      ].filter(([name]) => job.files && job.files[name]);
      files.replaceChildren(
        links.length
          ? el(
              "ul",
              { className: "files" },
              links.map(([name, text]) => el("li", {}, el("a", { href: job.files[name], download: name, text })))
            )
          : ""
      );
      resume.hidden = !(job.emailsHeld > 0 || job.emailsHeldWhy);
      if (job.finished) {
        if (job.mode === "validate") users.replaceChildren(el("p", { text: "A validation creates no users." }));
        else if (!usersShown) loadUsers();
        return;
      }
      pollTimer = setTimeout(refresh, POLL_MS);
    }
    refresh();
  }

  window.addEventListener("popstate", route);
  route();
})();
