# fish completion for rftctl(1), the control tool of the rftd sweep daemon.
#
# The same as the bash completion (completion/rftctl): commands, options
# and their values, spec files, and sweep and job ids asked from the
# daemon over the socket named by an earlier -s/--socket.  When no daemon
# answers there are simply no ids, and the wait is short.  cmake --install
# puts it in share/fish/vendor_completions.d.

# The words of the line before the cursor that are neither options nor
# their values: the command and its arguments, one a line.
function __rftctl_words
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    set -l dashdash 0
    for t in $tokens
        if test $skip -eq 1
            set skip 0
        else if test $dashdash -eq 1
            echo $t
        else
            switch $t
                case --
                    set dashdash 1
                case -s --socket -t --timeout --sweep --state --limit \
                    --interval --heartbeat --reconnect --format --max-rows \
                    --metric --action --by --out --width --height
                    set skip 1
                case '-*'
                case '*'
                    echo $t
            end
        end
    end
end

# True when the command's words are exactly $argv[2..] and more, $argv[1]
# of them in all ("__rftctl_is 2 sweep show": after "sweep show").
function __rftctl_is
    set -l words (__rftctl_words)
    test (count $words) -eq $argv[1]; or return 1
    for i in (seq 2 (count $argv))
        set -l at (math $i - 1)
        test "$words[$at]" = $argv[$i]; or return 1
    end
end

# True when the command is one of $argv.
function __rftctl_verb
    set -l words (__rftctl_words)
    contains -- "$words[1]" $argv
end

# The rftctl command with the socket an earlier -s/--socket gave.
function __rftctl_ctl
    set -l tokens (commandline -opc)
    set -l ctl $tokens[1]
    set -l n (count $tokens)
    for i in (seq 2 $n)
        switch $tokens[$i]
            case -s --socket
                if test $i -lt $n
                    set ctl $tokens[1] --socket $tokens[(math $i + 1)]
                end
            case '--socket=*'
                set ctl $tokens[1] --socket (string replace -- --socket= '' $tokens[$i])
            case '-s?*'
                set ctl $tokens[1] --socket (string sub -s 3 -- $tokens[$i])
        end
    end
    string join \n -- $ctl
end

# The ids of rftd's sweeps or latest jobs ($argv[1]: sweeps or jobs), one
# a line, with $argv[2] before each.
function __rftctl_ids
    set -l ctl (__rftctl_ctl)
    command -q -- $ctl[1]; or return
    set -l ask --json --timeout 1 $argv[1]
    test $argv[1] = jobs; and set -a ask --limit 50
    # rftctl --json prints one key a line: the ids are the "id" lines.
    $ctl $ask </dev/null 2>/dev/null |
        string replace -rf '^\s*"id":\s*([0-9]+),?\s*$' "$argv[2]\$1"
end

set -l verbs status ping stop budget reload plan submit sweeps sweep \
    leaderboard jobs job cancel pause resume watch sql export curves plot \
    notify
set -l job_states pending submitting validating queued running pausing \
    paused cancelling succeeded failed cancelled unknown lost
set -l trial_states finished all pending running paused succeeded failed \
    cancelled stopped

complete -c rftctl -f

# Options of every command.
complete -c rftctl -s s -l socket -r -F -d 'rftd control socket'
complete -c rftctl -s t -l timeout -x -d 'seconds to wait for a reply'
complete -c rftctl -s j -l json -d 'print replies and errors as JSON'
complete -c rftctl -s h -l help -d 'list the commands'
complete -c rftctl -s V -l version -d 'print the version'

# Options of one command.
complete -c rftctl -n '__rftctl_verb plan submit' -l reuse -d 'link stored trials'
complete -c rftctl -n '__rftctl_verb submit' -l yes -d 'submit despite warnings'
complete -c rftctl -n '__rftctl_verb leaderboard jobs' -l limit -x -d 'rows at most'
complete -c rftctl -n '__rftctl_verb leaderboard' -l by -x -a 'objective value'
complete -c rftctl -n '__rftctl_verb leaderboard' -l state -x -a "$trial_states"
complete -c rftctl -n '__rftctl_verb leaderboard curves plot' -l metric -x \
    -a 'valid_reward_mean train_reward_mean'
complete -c rftctl -n '__rftctl_verb jobs' -l sweep -x -a '(__rftctl_ids sweeps)'
complete -c rftctl -n '__rftctl_verb jobs' -l state -x -a "$job_states"
complete -c rftctl -n '__rftctl_verb watch' -l interval -x -d 'seconds between questions'
complete -c rftctl -n '__rftctl_verb watch' -l heartbeat -x -d 'a line at least this often'
complete -c rftctl -n '__rftctl_verb watch' -l reconnect -x -d 'seconds to wait for rftd to come back'
complete -c rftctl -n '__rftctl_verb sql' -l format -x -a 'table csv json ndjson jsonl'
complete -c rftctl -n '__rftctl_verb sql' -l max-rows -x -d 'rows at most'
complete -c rftctl -n '__rftctl_verb export' -l format -x -a 'csv json jsonl'
complete -c rftctl -n '__rftctl_verb plot' -l out -r -F -d 'the file: .svg, .png or -'
complete -c rftctl -n '__rftctl_verb plot' -l width -x -d 'pixels'
complete -c rftctl -n '__rftctl_verb plot' -l height -x -d 'pixels'
complete -c rftctl -n '__rftctl_is 2 budget set; or __rftctl_is 3 budget set; or __rftctl_is 4 budget set' \
    -l action -x -a 'pause cancel'

# The command, and its arguments.
complete -c rftctl -n '__rftctl_is 0' -a "$verbs"
complete -c rftctl -n '__rftctl_is 1 sweep; or __rftctl_is 1 job' -a show
complete -c rftctl -n '__rftctl_is 2 sweep show' -a '(__rftctl_ids sweeps)'
complete -c rftctl -n '__rftctl_is 2 job show' -a '(__rftctl_ids jobs)'
complete -c rftctl -n '__rftctl_is 1 budget' -a set
complete -c rftctl -n '__rftctl_is 1 notify' -a test
complete -c rftctl -n '__rftctl_is 2 budget set' \
    -a 'global day month (__rftctl_ids sweeps sweep:)'
complete -c rftctl -n '__rftctl_is 3 budget set' -a none
complete -c rftctl -n '__rftctl_is 1 plan; or __rftctl_is 1 submit' \
    -a '(__fish_complete_suffix .json)'
complete -c rftctl -n '__rftctl_is 1 leaderboard; or __rftctl_is 1 watch; or __rftctl_is 1 export' \
    -a '(__rftctl_ids sweeps)'
for verb in cancel pause resume curves plot
    complete -c rftctl -n "__rftctl_is 1 $verb" -a 'sweep job (__rftctl_ids sweeps)'
    complete -c rftctl -n "__rftctl_is 2 $verb sweep" -a '(__rftctl_ids sweeps)'
    complete -c rftctl -n "__rftctl_is 2 $verb job" -a '(__rftctl_ids jobs)'
end
