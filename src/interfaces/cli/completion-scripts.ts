/** Shells `dlm completion SHELL` prints a script for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;

/** One of {@link SHELLS}. */
export type Shell = (typeof SHELLS)[number];

/**
 * The completion script for `shell`. Each hands the words up to the cursor to `dlm __complete` (see
 * complete.ts) and offers what it prints, one proposal per line; files stay offered too (FILE arguments).
 * Load them with:
 * - bash: `source <(dlm completion bash)` in ~/.bashrc
 * - zsh: `dlm completion zsh > "${fpath[1]}/_dlm"` (or `source <(dlm completion zsh)` after compinit)
 * - fish: `dlm completion fish > ~/.config/fish/completions/dlm.fish`
 */
export function completionScript(shell: Shell): string {
  return SCRIPTS[shell];
}

const SCRIPTS: Readonly<Record<Shell, string>> = {
  bash: `# bash completion for dlm. Load it with: source <(dlm completion bash)
_dlm_complete() {
  local IFS=$'\\n'
  COMPREPLY=($(dlm __complete "\${COMP_WORDS[@]:0:COMP_CWORD+1}" 2>/dev/null))
}
complete -o default -o bashdefault -F _dlm_complete dlm
`,
  zsh: `#compdef dlm
# zsh completion for dlm. Install it with: dlm completion zsh > "\${fpath[1]}/_dlm"
_dlm() {
  local -a proposals
  proposals=("\${(@f)$(dlm __complete "\${(@)words[1,CURRENT]}" 2>/dev/null)}")
  compadd -a proposals
  _files
}
if [[ "\${funcstack[1]}" == _dlm ]]; then
  _dlm "$@"
else
  compdef _dlm dlm
fi
`,
  fish: `# fish completion for dlm. Install it with: dlm completion fish > ~/.config/fish/completions/dlm.fish
function __dlm_complete
    dlm __complete (commandline -opc) (commandline -ct) 2>/dev/null
end
complete -c dlm -a '(__dlm_complete)'
`,
};
