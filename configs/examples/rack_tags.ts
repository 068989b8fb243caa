/**
 * A tag resolver that reads tags from the address itself: in a network numbered 10.R.K.H
 * (region R, rack K, host H), `10.3.14.7` gets `region: r3` and `rack: r3-k14`, which the scraper
 * adds to points as `src_region`, `dst_rack`, and so on. Name it in a scraper config:
 *
 * ```yaml
 * tags:
 *   - use: ./examples/rack_tags.ts
 *     options: { first_octet: 10, prefix: r }   # both optional: these are the defaults
 * ```
 *
 * @module
 */
import { OptionsReader, PLUGIN_CONTRACT_VERSION, type TagResolverPlugin } from "@llama/plugins";

interface RackOptions {
  firstOctet: number;
  prefix: string;
}

// a.b.c.d, also written IPv4-mapped (::ffff:a.b.c.d) as dual-stack sockets report it.
const IPV4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/i;

const rackTags: TagResolverPlugin<RackOptions> = {
  kind: "tags",
  name: "rack",
  contract: PLUGIN_CONTRACT_VERSION,
  parseOptions(raw, path) {
    const options = new OptionsReader(raw, path, "rack");
    const parsed = {
      firstOctet: options.number("first_octet", { min: 0, max: 255, integer: true, fallback: 10 }),
      prefix: options.string("prefix", "r")!,
    };
    options.done();
    return parsed;
  },
  create(options) {
    return {
      // Pure computation: no I/O, so it answers at once and needs no cache and no dispose.
      resolve(address): Record<string, string> {
        const match = IPV4.exec(address);
        if (match === null || Number(match[1]) !== options.firstOctet) return {}; // not ours
        const region = `${options.prefix}${Number(match[2])}`;
        return { region, rack: `${region}-k${Number(match[3])}` };
      },
    };
  },
};

export default rackTags;
