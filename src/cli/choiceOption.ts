/**
 * A commander option that takes one of a fixed list, refused in sharp's words like every other flag
 * ("Expected one of: auto, lanes, pooled for --topology but received "x" of type string", exit 2)
 * rather than commander's own "Allowed choices are …". `--help` still lists the choices.
 */
import { Option } from 'commander';
import { parseChoiceFlag } from '../util/is.js';

export function choiceOption(flags: string, description: string, choices: readonly string[]): Option {
  const option = new Option(flags, description).choices(choices);
  const name = option.long ?? option.short ?? flags;
  return option.argParser((raw: string) => parseChoiceFlag(name, raw, choices));
}
