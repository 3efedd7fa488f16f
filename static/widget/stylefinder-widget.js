/*!
 * Stylefinder widget: a strip of similar-style photos from a Stylefinder gallery, on any page.
 *
 *   <script src="https://GALLERY/static/widget/stylefinder-widget.js" defer></script>
 *   <div data-stylefinder-photo="42" data-count="6"></div>
 *
 * Attributes of the div:
 *   data-stylefinder-photo  a photo id of the gallery, or the URL of an image (one of the
 *                           gallery's own images, or one of this site's, which is then read here
 *                           and sent to the gallery for analysis);
 *   data-count              how many photos, 1-24 (default 6);
 *   data-link               where a photo links to, with {id} for its id (default: its page in
 *                           the gallery), e.g. https://my-site.example/photos/{id};
 *   data-title              the heading (default "Similar style"; empty: no heading);
 *   data-mode               what similar means for a photo of the gallery: "look" (the same
 *                           look, any subject), "scene" (the same subject or shoot) or nothing
 *                           (the gallery's default list).
 * Attribute of the script: data-api, the gallery's API root (default: /api/ of the script's
 * origin).
 *
 * No framework, no eval, no inline style or handler: it works under a strict
 * Content-Security-Policy (styles are set through the CSSOM, inside a shadow root). If the
 * gallery cannot be reached the div is left as it is (its own content stays), and nothing is
 * thrown. Impressions (the strip at least half visible) and clicks are reported with the
 * visitor's A/B variant; the visitor is an id the gallery issues and signs, kept in this site's
 * localStorage.
 */
(function (window, document) {
  "use strict";

  var ID = /^[0-9a-f]{32}$/;
  var SIGNED_ID = /^[0-9a-f]{32}:[A-Za-z0-9_-]{20,100}$/;
  var WEB = /^https?:/;
  var PREFIX = "stylefinder.";
  var VISIT_MS = 30 * 60 * 1000; // a visit lapses after 30 minutes without activity
  var memory = {}; // when storage is blocked: ids for this page only
  var reported = {}; // impression tokens already sent from this page

  var noop = function () {};

  // --- Storage and ids ---------------------------------------------------------------------------

  var storage = function (name) {
    try {
      var store = window[name];
      store.setItem(PREFIX + "t", "1");
      store.removeItem(PREFIX + "t");
      return store;
    } catch (error) {
      return null; // disabled, full, or a sandboxed frame
    }
  };
  var local = storage("localStorage");
  var session = storage("sessionStorage");

  var read = function (store, key) {
    var value = null;
    try {
      value = store && store.getItem(PREFIX + key);
    } catch (error) {
      // fall back to memory
    }
    return value || memory[key] || null;
  };

  var write = function (store, key, value) {
    memory[key] = value;
    try {
      if (store) {
        store.setItem(PREFIX + key, value);
      }
    } catch (error) {
      // memory only
    }
  };

  var newId = function () {
    var bytes = new Uint8Array(16);
    var hex = "";
    var i;
    try {
      window.crypto.getRandomValues(bytes);
    } catch (error) {
      for (i = 0; i < 16; i += 1) {
        bytes[i] = Math.random() * 256;
      }
    }
    for (i = 0; i < 16; i += 1) {
      hex += (bytes[i] + 256).toString(16).slice(1);
    }
    return hex;
  };

  // The visitor: issued and signed by the gallery in its first answer, then kept per browser
  // and site for as long as the site's storage lasts (in memory when there is no storage).
  var visitor = function () {
    var id = read(local, "visitor");
    return SIGNED_ID.test(id) ? id : "";
  };
  var remember = function (data) {
    if (data && typeof data.visitor === "string" && SIGNED_ID.test(data.visitor)) {
      write(local, "visitor", data.visitor);
    }
    return data;
  };

  // The visit: one id per tab, renewed after 30 minutes without activity (sliding).
  var visit = function () {
    var parts = (read(session, "visit") || "").split(":");
    var now = Date.now();
    var id = parts[0];
    if (!ID.test(id) || !(now - Number(parts[1]) < VISIT_MS)) {
      id = newId();
    }
    write(session, "visit", id + ":" + now);
    return id;
  };

  // --- Talking to the gallery --------------------------------------------------------------------

  var script =
    document.currentScript || document.querySelector("script[src*='stylefinder-widget']");
  var api;
  try {
    api = new URL(script.getAttribute("data-api") || "/api/", script.src).href;
  } catch (error) {
    return; // no script element or no URL support: nothing to do
  }
  if (!window.fetch || !window.Promise) {
    return;
  }

  var getJSON = function (url, init) {
    init = init || {};
    init.mode = "cors";
    init.credentials = "omit"; // the gallery's cookies are not ours to send
    return window
      .fetch(url, init)
      .then(function (response) {
        if (!response.ok) {
          throw response;
        }
        return response.json();
      })
      .then(remember);
  };

  // Events are JSON sent as text/plain: a CORS "simple request", so a beacon needs no preflight.
  var send = function (event) {
    try {
      if (visitor()) {
        event.visitor = visitor();
      }
      event.visit = visit();
      var body = JSON.stringify(event);
      var url = api + "events/";
      var blob = new Blob([body], { type: "text/plain" });
      if (navigator.sendBeacon && navigator.sendBeacon(url, blob)) {
        return;
      }
      window
        .fetch(url, {
          method: "POST",
          body: body,
          headers: { "Content-Type": "text/plain" },
          mode: "cors",
          credentials: "omit",
          keepalive: true,
        })
        .catch(noop);
    } catch (error) {
      // analytics never break the page
    }
  };

  var query = function (options) {
    var mode = options.mode ? "&mode=" + encodeURIComponent(options.mode) : "";
    var id = visitor() ? "&visitor=" + encodeURIComponent(visitor()) : "";
    return "count=" + options.count + id + mode;
  };

  // An image of this site: read here, analysed by the gallery (never stored). The answer's
  // `ref` is kept for the tab, so that a reload asks for the same list without uploading again.
  var upload = function (url, options) {
    var key = "ref:" + options.count + ":" + url;
    var fresh = function () {
      return window
        .fetch(url, { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) {
            throw response;
          }
          return response.blob();
        })
        .then(function (blob) {
          var form = new FormData();
          form.append("image", blob, "image");
          form.append("count", options.count);
          if (visitor()) {
            form.append("visitor", visitor());
          }
          return getJSON(api + "widget/", { method: "POST", body: form });
        })
        .then(function (data) {
          if (data && data.ref) {
            write(session, key, data.ref);
          }
          return data;
        });
    };
    var ref = read(session, key);
    if (!ref) {
      return fresh();
    }
    return getJSON(api + "widget/?ref=" + encodeURIComponent(ref) + "&" + query(options)).catch(
      fresh
    );
  };

  var fetchList = function (options) {
    var photo = options.photo;
    if (/^\d+$/.test(photo)) {
      return getJSON(api + "widget/?photo=" + photo + "&" + query(options));
    }
    var image = new URL(photo, window.location.href);
    if (!WEB.test(image.protocol)) {
      return Promise.reject(image);
    }
    var gallery = new URL(api).origin;
    var own = function () {
      return getJSON(
        api + "widget/?image_url=" + encodeURIComponent(image.href) + "&" + query(options)
      );
    };
    if (image.origin === gallery) {
      return own(); // one of the gallery's own images: named, not uploaded
    }
    if (image.origin === window.location.origin) {
      return upload(image.href, options); // one of this site's images
    }
    // Elsewhere: perhaps the gallery's media on another host (object storage, a CDN).
    return own().catch(function (error) {
      if (error && error.status === 404) {
        return upload(image.href, options);
      }
      throw error;
    });
  };

  // --- Drawing -----------------------------------------------------------------------------------

  // An element styled through the CSSOM (allowed by a CSP without 'unsafe-inline').
  var make = function (tag, css) {
    var element = document.createElement(tag);
    element.style.cssText = css || "";
    return element;
  };

  var linkFor = function (pattern, item) {
    var href = item.page_url;
    if (pattern) {
      try {
        var url = new URL(
          pattern.split("{id}").join(encodeURIComponent(item.id)),
          window.location.href
        );
        if (WEB.test(url.protocol)) {
          href = url.href;
        }
      } catch (error) {
        // the gallery's page then
      }
    }
    return href;
  };

  // Once at least half of the strip (or half the screen) has been seen, report it once.
  var watch = function (target, token) {
    var seen = function () {
      if (!reported[token]) {
        reported[token] = true;
        send({ type: "impression", token: token });
      }
    };
    if (!window.IntersectionObserver) {
      seen();
      return;
    }
    var observer = new IntersectionObserver(
      function (entries) {
        entries.forEach(function (entry) {
          var screen = entry.rootBounds ? entry.rootBounds.height : window.innerHeight;
          if (
            entry.isIntersecting &&
            (entry.intersectionRatio >= 0.5 || entry.intersectionRect.height >= screen / 2)
          ) {
            observer.disconnect();
            seen();
          }
        });
      },
      { threshold: [0, 0.25, 0.5, 0.75, 1] }
    );
    observer.observe(target);
  };

  var render = function (host, data, options) {
    var items = (data && data.items) || [];
    items = items.filter(function (item) {
      return item && item.id > 0 && WEB.test(item.thumbnail_url) && WEB.test(item.page_url);
    });
    if (!items.length) {
      host.setAttribute("data-stylefinder-state", "empty");
      return; // nothing to show (or the `none` variant): the div stays as it was
    }
    var root;
    try {
      root = host.shadowRoot || host.attachShadow({ mode: "open" }); // hides the fallback content
      root.textContent = "";
    } catch (error) {
      root = host; // an element that cannot have a shadow root: replace its content
      host.textContent = "";
    }
    var box = make("div", "display:block;margin:0;padding:0;font:inherit;color:inherit");
    if (options.title) {
      var heading = make("h2", "margin:0 0 .5em;font:inherit;font-size:1.1em;font-weight:600");
      heading.textContent = options.title;
      box.appendChild(heading);
    }
    var list = make(
      "ul",
      "display:flex;gap:8px;margin:0;padding:4px 2px 8px;list-style:none;overflow-x:auto;" +
        "scroll-snap-type:x proximity;overscroll-behavior-x:contain"
    );
    list.setAttribute("role", "list"); // keeps list semantics without bullets (Safari)
    list.setAttribute("part", "list");
    items.forEach(function (item, index) {
      var li = make("li", "flex:0 0 auto;margin:0;padding:0;scroll-snap-align:start");
      var link = make(
        "a",
        "display:block;line-height:0;border-radius:3px;overflow:hidden;color:inherit"
      );
      link.href = linkFor(options.link, item);
      link.title = item.title || "";
      link.setAttribute("data-photo", item.id);
      link.setAttribute("data-position", item.position || index + 1);
      var image = make(
        "img",
        "display:block;height:clamp(96px,24vw,150px);width:auto;max-width:none;margin:0;" +
          "border:0;background:rgba(128,128,128,.18)"
      );
      image.alt = item.title || "";
      image.width = item.width || 1;
      image.height = item.height || 1;
      image.loading = "lazy";
      image.decoding = "async";
      image.src = item.thumbnail_url;
      link.appendChild(image);
      li.appendChild(link);
      list.appendChild(li);
    });
    box.appendChild(list);
    // When the photos do not fit (a phone, a narrow column) the strip says that it scrolls: a
    // fade at its right edge over the cut-off photo, and a hint under it.
    var hint = make(
      "p",
      "display:none;margin:.25em 0 0;text-align:right;font:inherit;font-size:.8em;opacity:.75"
    );
    hint.setAttribute("part", "hint");
    hint.setAttribute("aria-hidden", "true");
    hint.textContent = "Scroll for more \u2192";
    box.appendChild(hint);
    root.appendChild(box);
    var fade = "linear-gradient(to right,#000 calc(100% - 32px),transparent)";
    var fit = function () {
      var scrolls = list.scrollWidth > list.clientWidth + 1;
      var atEnd = list.scrollLeft + list.clientWidth >= list.scrollWidth - 1;
      var mask = scrolls && !atEnd ? fade : "none";
      list.style.webkitMaskImage = mask;
      list.style.maskImage = mask;
      hint.style.display = scrolls ? "block" : "none";
    };
    fit();
    list.addEventListener("load", fit, true); // each image, as it arrives (load does not bubble)
    list.addEventListener("scroll", fit, { passive: true });
    if (window.ResizeObserver) {
      new ResizeObserver(fit).observe(list);
    } else {
      window.addEventListener("resize", fit);
    }

    var token = data.impression;
    if (token) {
      watch(list, token);
      var onClick = function (event) {
        try {
          if (event.type === "auxclick" && event.button !== 1) {
            return; // of the other buttons only the middle one opens a link
          }
          var link = event.target && event.target.closest && event.target.closest("a[data-photo]");
          if (link) {
            send({
              type: "click",
              token: token,
              photo: Number(link.getAttribute("data-photo")),
              position: Number(link.getAttribute("data-position")),
            });
          }
        } catch (error) {
          // never in the way of the navigation
        }
      };
      root.addEventListener("click", onClick, true);
      root.addEventListener("auxclick", onClick, true);
    }
    host.setAttribute("data-stylefinder-state", "ready");
  };

  // --- Start -------------------------------------------------------------------------------------

  // Until the gallery has issued this browser's visitor id, lists are asked for one at a time:
  // the first answer brings the id and the others use it (else each would get an id of its own
  // and the events of all but one would be refused).
  var issuing = null;
  var inTurn = function (ask) {
    if (visitor()) {
      return ask();
    }
    if (!issuing) {
      issuing = ask();
      return issuing;
    }
    return issuing.then(ask, ask);
  };

  var load = function (host) {
    if (host.stylefinderLoaded) {
      return;
    }
    host.stylefinderLoaded = true;
    try {
      var count = parseInt(host.getAttribute("data-count"), 10);
      var title = host.getAttribute("data-title");
      var options = {
        photo: (host.getAttribute("data-stylefinder-photo") || "").trim(),
        count: count >= 1 ? Math.min(count, 24) : 6,
        link: host.getAttribute("data-link"),
        title: title === null ? "Similar style" : title,
        mode: (host.getAttribute("data-mode") || "").trim().toLowerCase(),
      };
      if (!options.photo) {
        return;
      }
      inTurn(function () {
        return fetchList(options);
      })
        .then(function (data) {
          render(host, data, options);
        })
        .catch(function () {
          host.setAttribute("data-stylefinder-state", "unavailable"); // quietly: the page stays
        });
    } catch (error) {
      // quietly
    }
  };

  var scan = function (root) {
    try {
      var hosts = (root || document).querySelectorAll("[data-stylefinder-photo]");
      for (var i = 0; i < hosts.length; i += 1) {
        load(hosts[i]);
      }
    } catch (error) {
      // quietly
    }
  };

  window.Stylefinder = { scan: scan }; // for divs added later: Stylefinder.scan()
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      scan();
    });
  } else {
    scan();
  }
})(window, document);
